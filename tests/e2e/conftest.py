"""One control plane for the whole e2e session, with the product installed as a user would.

Its own control plane, not the shared one: the webhook configurations it installs are cluster-wide.
The `local` overlay goes in with kubectl; `mcp-admission serve` (real TLS from `mcp-admission certs
generate`) and `mcp-admission reconcile` (authenticated as its ServiceAccount, so the shipped RBAC is
what it works with) run on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ControlPlane, running_control_plane
from tests.support import eventually, free_port

from .cluster import RECONCILER_SA, Cluster, service_account_kubeconfig
from .harness import (
    Kubectl,
    Process,
    config_text,
    dump,
    point_local_webhooks,
    render,
    run_cli,
)


@pytest.fixture(scope="session")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    with running_control_plane(tmp_path_factory.mktemp("e2e-kube")) as plane:
        yield plane


@pytest.fixture(scope="session")
def kubectl(plane: ControlPlane) -> Kubectl:
    return Kubectl(plane.kubectl, plane.kubeconfig)


@pytest.fixture(scope="session")
def cluster(
    plane: ControlPlane, kubectl: Kubectl, toolhive: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    work = tmp_path_factory.mktemp("e2e")
    # ToolHive's CRDs first (create: the VirtualMCPServer CRD is too large for apply's annotation).
    kubectl("create", "-f", str(toolhive / "crds-k8s-1.20"))
    kubectl("wait", "--for", "condition=established", "--timeout=60s", "crd", "--all")

    tls = work / "tls"
    made = run_cli(
        "certs", "generate", "--service", "mcp-admission", "--namespace", "mcp-admission",
        "--extra-san", "127.0.0.1", "--out", str(tls),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr

    port, metrics_port = free_port(), free_port()
    local = render("overlays/local")
    config = work / "config.yaml"
    config.write_text(config_text(local))
    kubectl("apply", "-f", "-", stdin=dump(point_local_webhooks(local, port, (tls / "ca.crt").read_bytes())))

    webhook = Process(
        [
            # debug: every decision is logged, the ALLOWs too (what the apiserver sent, and did not).
            "serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
            "--metrics-port", str(metrics_port), "--cert-file", str(tls / "tls.crt"),
            "--key-file", str(tls / "tls.key"), "--grace-period", "2", "--log-level", "debug",
            "--drain-seconds", "0",  # called by URL, not through a Service's endpoints: nothing to drain
        ],
        work / "webhook.log",
    )  # fmt: skip
    reconciler_kubeconfig = service_account_kubeconfig(
        kubectl, plane.env, RECONCILER_SA, work / "sa.kubeconfig"
    )
    reconciler = Process(
        [
            # No metrics listener: the shipped configuration binds it to every interface.
            "reconcile", "--config", str(config), "--kubeconfig", str(reconciler_kubeconfig),
            "--metrics-port", "0",
        ],
        work / "reconciler.log",
    )  # fmt: skip
    cluster = Cluster(
        kubectl=kubectl,
        env=plane.env,
        dir=work,
        config=config,
        webhook=webhook,
        reconciler=reconciler,
        webhook_url=f"https://127.0.0.1:{port}",
        ca_file=tls / "ca.crt",
    )
    try:
        cluster.start_webhook()
        reconciler.start()
        lease = ("lease", "mcp-admission-reconciler", "mcp-admission")
        eventually(lambda: kubectl.get(*lease), "the reconciler to take its Lease", timeout=30)
        yield cluster
    finally:
        exits = webhook.stop(), reconciler.stop()
    # Both stop gracefully on SIGTERM, as in a pod; their logs are in `work` for a post-mortem.
    assert exits == (0, 0), f"exit codes (webhook, reconciler): {exits}; logs in {work}"
