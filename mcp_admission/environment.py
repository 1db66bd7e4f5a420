"""Every environment variable mcp-admission reads, and the rule that keeps them clear of Kubernetes'.

The kubelet gives each container "service link" variables for every Service in its namespace
(`enableServiceLinks` defaults to true; pkg/kubelet/envvars FromServices). For a Service named N,
upper-cased with `-` → `_`:

    N_SERVICE_HOST  N_SERVICE_PORT  N_SERVICE_PORT_<PORT NAME>
    N_PORT  N_PORT_<number>_<PROTOCOL>  N_PORT_<number>_<PROTOCOL>_{PROTO,PORT,ADDR}

Our own Service `mcp-admission` thus sets MCP_ADMISSION_PORT=tcp://10.96.x.y:443 in every pod of our
namespace, and a variable of ours by that name made every install crash-loop. The rule: no name we read
may have one of those shapes, whatever N is — then no Service, ours or one a user adds beside it, can set
it. `SERVICE_LINK` states the shapes and tests/architecture holds every name below (and every literal
MCP_ADMISSION_* in the package) to it.
"""

from __future__ import annotations

import re

# What the kubelet can inject, for any Service name (a DNS-1035 label, so N is [A-Z0-9_]+).
SERVICE_LINK = re.compile(
    r"[A-Z0-9_]+_(?:SERVICE_HOST|SERVICE_PORT(?:_[A-Z0-9_]+)?|PORT(?:_[0-9]+_[A-Z]+(?:_PROTO|_PORT|_ADDR)?)?)"
)


def injectable(name: str) -> bool:
    """Whether some Service in the pod's namespace could make the kubelet set `name`."""
    return SERVICE_LINK.fullmatch(name) is not None


CONFIG = "MCP_ADMISSION_CONFIG"  # the configuration file, for every command
LOG_LEVEL = "MCP_ADMISSION_LOG_LEVEL"  # every command that runs
POD_NAME = "POD_NAME"  # reconcile: the Lease holder's identity (downward API in the shipped Deployment)

# `serve`: one per flag. Never `..._PORT`: that is the shape of the kubelet's N_PORT.
SERVE_HOST = "MCP_ADMISSION_HOST"
SERVE_PORT = "MCP_ADMISSION_PORT_NUMBER"
SERVE_METRICS_PORT = "MCP_ADMISSION_METRICS_PORT_NUMBER"
SERVE_CERT_FILE = "MCP_ADMISSION_CERT_FILE"
SERVE_KEY_FILE = "MCP_ADMISSION_KEY_FILE"
SERVE_DRAIN_SECONDS = "MCP_ADMISSION_DRAIN_SECONDS"
SERVE_GRACE_PERIOD = "MCP_ADMISSION_GRACE_PERIOD"
SERVE_MAX_BODY_BYTES = "MCP_ADMISSION_MAX_BODY_BYTES"

READ = (
    CONFIG,
    LOG_LEVEL,
    POD_NAME,
    SERVE_HOST,
    SERVE_PORT,
    SERVE_METRICS_PORT,
    SERVE_CERT_FILE,
    SERVE_KEY_FILE,
    SERVE_DRAIN_SECONDS,
    SERVE_GRACE_PERIOD,
    SERVE_MAX_BODY_BYTES,
)
