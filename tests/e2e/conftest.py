"""The product installed as a user would, on the session's control plane, for the e2e package.

Its webhook configurations and its reconciler are cluster-wide, as shipped: they are installed when the
package starts and removed, with every namespace its tests made, when it ends (`cluster_wide`; the
namespaces are left Terminating for the next such package to wait for: tests/support/namespaces.py). The
`local` overlay goes in with kubectl; `mcp-admission serve` (real TLS from `mcp-admission certs
generate`) and `mcp-admission reconcile` (authenticated as its ServiceAccount, so the shipped RBAC is
what it works with) run on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mcp_admission.kube import Kube, api_client
from tests.conftest import ControlPlane
from tests.support import eventually, free_port
from tests.support.namespaces import none_terminating

from .cluster import E2E_LABEL, RECONCILER_SA, Cluster, service_account_kubeconfig
from .harness import (
    Kubectl,
    Obj,
    Process,
    config_text,
    dump,
    point_local_webhooks,
    render,
    run_cli,
)


@pytest.fixture(scope="session")
def plane(cluster_wide: ControlPlane) -> ControlPlane:
    return cluster_wide


@pytest.fixture(scope="session")
def kubectl(plane: ControlPlane) -> Kubectl:
    return Kubectl(plane.kubectl, plane.kubeconfig)


@pytest.fixture(scope="package")
def cluster(
    plane: ControlPlane, kubectl: Kubectl, toolhive_crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    work = tmp_path_factory.mktemp("e2e")

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
    installed = point_local_webhooks(local, port, (tls / "ca.crt").read_bytes())

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
    reconciler = Process(
        [
            # No metrics listener: the shipped configuration binds it to every interface.
            "reconcile", "--config", str(config), "--kubeconfig", str(work / "sa.kubeconfig"),
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
        # The webhook needs only its certificates and configuration: it starts up while the install
        # goes in, and the reconciler (which needs its ServiceAccount's token) beside it.
        webhook.start()
        # The install takes the namespace mcp-admission, and the reconciler and the webhooks see every
        # namespace: none of an earlier package's may still be going (its objects would meet them).
        none_terminating(Kube(api_client(str(plane.kubeconfig))))
        kubectl("apply", "-f", "-", stdin=dump(installed))
        service_account_kubeconfig(kubectl, plane.env, RECONCILER_SA, work / "sa.kubeconfig")
        reconciler.start()
        eventually(cluster.webhook_ready, "the webhook's /readyz", timeout=30)
        lease = ("lease", "mcp-admission-reconciler", "mcp-admission")
        eventually(lambda: kubectl.get(*lease), "the reconciler to take its Lease", timeout=30)
        yield cluster
    finally:
        exits = webhook.stop(), reconciler.stop()
        uninstall(kubectl, installed)
    # Both stop gracefully on SIGTERM, as in a pod; their logs are in `work` for a post-mortem.
    assert exits == (0, 0), f"exit codes (webhook, reconciler): {exits}; logs in {work}"


def uninstall(kubectl: Kubectl, installed: list[Obj]) -> None:
    """Leave the shared plane as the package found it: the install gone (kube-system keeps its opt-out
    label: `delete` must not touch that namespace) and every namespace the tests made deleted. Not waited
    for (5 s at least, the namespace controller's grace period): the next package that installs
    cluster-wide parts waits for what it needs gone (tests/support/namespaces.py)."""
    ours = [
        obj
        for obj in installed
        if not (obj["kind"] == "Namespace" and obj["metadata"]["name"] == "kube-system")
    ]
    kubectl("delete", "-f", "-", "--ignore-not-found", "--wait=false", stdin=dump(ours), check=False)
    kubectl("delete", "namespace", "-l", E2E_LABEL, "--wait=false", check=False)
