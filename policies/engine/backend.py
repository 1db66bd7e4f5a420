"""The backend Services of an MCP StatefulSet (design §3): their names, their selector, and which
StatefulSets get them, in one place.

ToolHive's pair for StatefulSet X: `mcp-X` (ClusterIP, sticky) and `mcp-X-headless` (pod DNS), both
owned by X. The engine recognises them by these names; statefulset-dns names the headless one in
`spec.serviceName`; the reconciler makes both (policies/backend_services.py plans them); deploy's CEL
recognises them as the engine does. All ask `backend_selector`, so a StatefulSet never names a headless
Service that will not exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp_admission.names import service_name
from mcp_admission.policies.engine.model import JSON, mapping

if TYPE_CHECKING:  # workloads.py recognises backend Services by the names below
    from mcp_admission.policies.engine.workloads import Workload

BACKEND_SERVICE_PREFIX, HEADLESS_SUFFIX = "mcp-", "-headless"

# A selector's matchLabels are read only up to this many (ToolHive's have two): the admission policies'
# CEL then loops over a bounded map, and the engine decides past the bound as they do.
MAX_SELECTOR_LABELS = 100
MATCH_EXPRESSIONS = "selector uses matchExpressions, which a Service selector cannot express"
NO_MATCH_LABELS = "selector has no matchLabels"
TOO_MANY_LABELS = f"selector has more than {MAX_SELECTOR_LABELS} matchLabels"


def backend_service_names(statefulset_name: str) -> tuple[str, str]:
    """ToolHive's names for the backend Services of StatefulSet X: mcp-X and mcp-X-headless."""
    sticky = BACKEND_SERVICE_PREFIX + statefulset_name
    return sticky, sticky + HEADLESS_SUFFIX


def cluster_ip_service_name(statefulset_name: str) -> str | None:
    """The sticky backend Service's name, `mcp-<name>`; None when that is no valid Service name."""
    return service_name(BACKEND_SERVICE_PREFIX + "{name}", statefulset_name)


def backend_selector(statefulset: JSON, workload: Workload) -> dict[str, str] | str | None:
    """The selector of an MCP StatefulSet's backend Services; None when it serves nothing on the network
    (stdio: nothing to name, nothing wrong); else why it cannot have them.

    stdio only when its labels (or the selector that marked it) say so: a stdio server is one process
    attached to its proxy, and ToolHive makes no Services for it either. An MCP StatefulSet that names no
    transport was still marked as an MCP workload, so it is served, as stdio-replicas (which caps only
    what says stdio) reads it too.
    """
    if workload.transport == "stdio":
        return None
    selector = mapping(mapping(mapping(statefulset).get("spec")).get("selector"))
    if selector.get("matchExpressions"):
        return MATCH_EXPRESSIONS
    labels = mapping(selector.get("matchLabels"))
    if len(labels) > MAX_SELECTOR_LABELS:
        return TOO_MANY_LABELS
    if not labels or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        return NO_MATCH_LABELS
    return dict(labels)
