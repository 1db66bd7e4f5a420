"""`mcp-admission reconcile`: keep the Services MCP StatefulSets need, leader-elected."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import threading
import uuid
from typing import Any

from mcp_admission import environment, exitcodes, logs
from mcp_admission.cli import options
from mcp_admission.cli.config import load_config
from mcp_admission.cli.options import Option
from mcp_admission.configfile import ConfigError

ONCE_TIMEOUT = 120  # seconds a --once pass may take, retries included
OPTIONS = (
    options.KUBECONFIG,
    Option(
        "--namespace",
        "watch only this namespace (repeatable; default: the config's reconciler.namespaces, else all)",
        action="append",
        default=[],
        metavar="NS",
    ),
    Option("--once", "one full pass, then exit (no leader election)", action="store_true"),
    Option(
        "--leader-elect",
        "hold a Lease so one replica is active",
        setting=("reconciler", "leader_elect"),
        default_help="true",
        action=argparse.BooleanOptionalAction,
    ),
    Option(
        "--metrics-port",
        "Prometheus /metrics port, 0: none",
        setting=("reconciler", "metrics_port"),
        type=int,
        metavar="PORT",
    ),
    options.LOG_LEVEL,
)


HELP = "create, repair and remove the Services of MCP StatefulSets (server-side apply, leader-elected)"
DESCRIPTION = (
    "Watch MCP StatefulSets and keep their headless and sticky Services as policy wants; remove"
    " ours that a StatefulSet no longer needs (never its governing serviceName)."
)
EXIT_CODES = exitcodes.epilog(
    failed="--once: the pass did not complete; else: the Lease was lost (restarted, it rejoins)",
    unusable="a bad option, configuration, log level, kubeconfig or metrics port",
    ok="stopped by SIGTERM or SIGINT, or --once completed",
)


def register(commands: Any) -> None:
    parser = options.command(commands, "reconcile", HELP, EXIT_CODES, DESCRIPTION)
    options.add_config(parser, "its reconciler: section supplies the defaults of the options below")
    options.add(parser, OPTIONS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here, when reconciling: the other subcommands need none of the kubernetes client.
    from prometheus_client import REGISTRY

    from mcp_admission.kube import Kube, KubeError, api_client
    from mcp_admission.metrics import serve_metrics
    from mcp_admission.reconciler.controller import FIELD_MANAGER, Reconciler
    from mcp_admission.reconciler.leader import LeaderElector
    from mcp_admission.reconciler.metrics import ReconcilerMetrics

    try:
        logs.configure(options.log_level(args, os.environ))
        config = load_config(args.config)
        settings = options.resolve(config.reconciler, OPTIONS, args, os.environ)
    except ConfigError as exc:
        return exitcodes.cannot_start("reconcile", exc)
    try:
        pool = settings.workers + 4  # + watches, lease
        kube = Kube(api_client(args.kubeconfig, pool_size=pool, component=FIELD_MANAGER))
    except KubeError as exc:
        return exitcodes.cannot_start("reconcile", exc)

    metrics = ReconcilerMetrics(REGISTRY)
    if settings.metrics_port and not args.once:
        try:
            serve_metrics(settings.metrics_port, settings.metrics_address, REGISTRY)
        except OSError as exc:
            return exitcodes.cannot_start("reconcile", f"metrics port {settings.metrics_port}: {exc}")
    reconciler = Reconciler(kube, config, settings, metrics, tuple(args.namespace))
    if args.once:
        return exitcodes.OK if reconciler.run_once(ONCE_TIMEOUT) else exitcodes.FAILED

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        logging.getLogger(__name__).info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if not settings.leader_elect:
        reconciler.run(stop)
        return exitcodes.OK
    identity = f"{os.environ.get(environment.POD_NAME) or socket.gethostname()}_{uuid.uuid4().hex[:8]}"
    elector = LeaderElector(kube, settings, identity, lambda leading: metrics.is_leader.set(int(leading)))
    # Losing the Lease ends the process (as client-go does): a restart starts clean as a standby.
    return exitcodes.OK if elector.run(stop, reconciler.run) else exitcodes.FAILED
