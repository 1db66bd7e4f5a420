"""The install itself: every overlay is valid for the apiserver, and each ServiceAccount can do exactly
what its part needs."""

from __future__ import annotations

import base64
import json

import pytest

from tests.support import eventually, free_port

from .cluster import RECONCILER_SA, WEBHOOK_NS, WEBHOOK_SA, Cluster, service_account_kubeconfig
from .harness import MODERN, OVERLAYS, Kubectl, Process, dump, render, run_cli
from .objects import OPT_IN, service

pytestmark = pytest.mark.cluster

BASELINE_ACCOUNT = "mcp-admission-nobody"  # no bindings: what every authenticated account may do
WEBHOOK_CONFIGS = ("mutatingwebhookconfigurations", "validatingwebhookconfigurations")
# What each part needs (see the comments in deploy/base/rbac-*.yaml): (resource, resourceNames, verbs).
CLUSTER_WIDE = {
    WEBHOOK_SA: {
        (f"{kind}.admissionregistration.k8s.io", "mcp-admission", "get patch") for kind in WEBHOOK_CONFIGS
    },
    RECONCILER_SA: {
        ("statefulsets.apps", "", "get list watch"),
        ("statefulsets.apps/scale", "", "get patch update"),
        ("statefulsets.apps/finalizers", "", "update"),
        ("services", "", "get list watch create patch delete"),
        ("events", "", "create"),
    },
}
IN_OWN_NAMESPACE = {
    WEBHOOK_SA: {
        ("secrets", "", "create"),
        ("secrets", "mcp-admission-tls", "get update"),
        ("secrets", "mcp-admission-ca", "get update"),
    },
    RECONCILER_SA: {
        ("leases.coordination.k8s.io", "", "create"),
        ("leases.coordination.k8s.io", "mcp-admission-reconciler", "get update patch"),
    },
}


def can_i_list(kubectl: Kubectl, account: str, namespace: str) -> set[tuple[str, str, str]]:
    """`kubectl auth can-i --list` as a ServiceAccount: (resource, resource names, verbs) per row."""
    out = kubectl(
        "auth", "can-i", "--list", f"--as=system:serviceaccount:{WEBHOOK_NS}:{account}", "-n", namespace
    )
    header, *rows = out.stdout.splitlines()
    starts = [header.index(column) for column in ("Non-Resource URLs", "Resource Names", "Verbs")]
    entries = set()
    for row in rows:
        resource = row[: starts[0]].strip()
        urls = row[starts[0] : starts[1]].strip()
        names = row[starts[1] : starts[2]].strip().strip("[]")
        verbs = row[starts[2] :].strip().strip("[]")
        entries.add((resource or urls, names, verbs))
    return entries


@pytest.mark.parametrize("account", [WEBHOOK_SA, RECONCILER_SA])
def test_service_accounts_get_nothing_beyond_what_their_part_needs(cluster: Cluster, account: str) -> None:
    kubectl = cluster.kubectl
    ns = cluster.namespace("rbac")
    for namespace, expected in (
        (ns, CLUSTER_WIDE[account]),
        (WEBHOOK_NS, CLUSTER_WIDE[account] | IN_OWN_NAMESPACE[account]),
    ):
        baseline = can_i_list(kubectl, BASELINE_ACCOUNT, namespace)
        assert can_i_list(kubectl, account, namespace) - baseline == expected, (account, namespace)


def test_the_webhook_pods_manage_their_certificates_with_their_rbac(cluster: Cluster) -> None:
    """What the webhook pods run, as the webhook's ServiceAccount with nothing more than the shipped
    RBAC: `certs ensure` (init container) makes the Secrets and injects both caBundles; then
    `serve --manage-certs`, on the Secret's files as the kubelet mounts them, keeps the caBundle right."""
    kubectl = cluster.kubectl
    kubeconfig = service_account_kubeconfig(
        kubectl, cluster.env, WEBHOOK_SA, cluster.dir / "webhook-sa.kubeconfig"
    )
    as_pod = ("--config", str(cluster.config), "--kubeconfig", str(kubeconfig))
    ours = {kind: _ca_bundle(kubectl, kind) for kind in WEBHOOK_CONFIGS}
    try:
        ensured = run_cli("certs", "ensure", *as_pod)
        assert ensured.returncode == 0, ensured.stderr
        tls = kubectl.get("secret", "mcp-admission-tls", WEBHOOK_NS)
        assert tls is not None and kubectl.get("secret", "mcp-admission-ca", WEBHOOK_NS) is not None
        assert {_ca_bundle(kubectl, kind) for kind in WEBHOOK_CONFIGS} == {tls["data"]["ca.crt"]}
        again = run_cli("certs", "ensure", *as_pod)
        assert again.returncode == 0, again.stderr
        assert kubectl.get("secret", "mcp-admission-tls", WEBHOOK_NS) == tls, "a second pass changes nothing"

        _set_ca_bundles(kubectl, ours)  # undone by the server's first pass below
        mounted = cluster.dir / "mounted-tls"
        mounted.mkdir()
        for key in ("tls.crt", "tls.key"):
            (mounted / key).write_bytes(base64.b64decode(tls["data"][key]))
        server = Process(
            [
                "serve", "--manage-certs", *as_pod, "--host", "127.0.0.1", "--port", str(free_port()),
                "--metrics-port", "0", "--cert-file", str(mounted / "tls.crt"),
                "--key-file", str(mounted / "tls.key"),
            ],
            cluster.dir / "serve-manage-certs.log",
        )  # fmt: skip
        server.start()
        try:
            eventually(
                lambda: {_ca_bundle(kubectl, kind) for kind in WEBHOOK_CONFIGS} == {tls["data"]["ca.crt"]},
                "serve --manage-certs to inject the caBundle again",
            )
        finally:
            assert server.stop() == 0
    finally:
        _set_ca_bundles(kubectl, ours)  # back to the CA of the webhook these tests run on loopback
    assert base64.b64decode(ours[WEBHOOK_CONFIGS[0]]) == cluster.ca_file.read_bytes()
    assert cluster.apply(service("after-certs", OPT_IN), cluster.namespace("certs")).warnings


def _set_ca_bundles(kubectl: Kubectl, bundles: dict[str, str]) -> None:
    for kind, bundle in bundles.items():
        patch = [{"op": "replace", "path": "/webhooks/0/clientConfig/caBundle", "value": bundle}]
        kubectl("patch", kind, "mcp-admission", "--type=json", "-p", json.dumps(patch))


def _ca_bundle(kubectl: Kubectl, kind: str) -> str:
    config = kubectl.get(kind, "mcp-admission")
    assert config is not None
    bundle: str = config["webhooks"][0]["clientConfig"].get("caBundle", "")
    return bundle


# overlays/default renders base and the webhook configurations overlays/cert-manager has (test_e2e_render.py).
@pytest.mark.parametrize("overlay", [o for o in OVERLAYS if o != "overlays/default"])
def test_every_overlay_is_valid_for_the_apiserver(cluster: Cluster, overlay: str) -> None:
    objs = render(overlay)
    # cert-manager's kinds need its CRDs, which this control plane does not have.
    checked = [o for o in objs if not o["apiVersion"].startswith("cert-manager.io/")]
    if overlay == "overlays/cert-manager":
        assert sorted(o["kind"] for o in objs if o not in checked) == ["Certificate", "Issuer"]
    # This control plane is 1.20: it knows no matchConditions (the modern overlays' CEL is checked
    # offline by tests/deploy). The rest of those webhook configurations it checks as it is.
    stripped = [
        h.pop("matchConditions") for o in checked for h in o.get("webhooks", ()) if "matchConditions" in h
    ]
    assert len(stripped) == (2 if overlay in MODERN else 0)
    for obj in checked:
        # policy/v1 is 1.21+; v1beta1 (removed in 1.25) has the same fields for what we use.
        if obj["apiVersion"] == "policy/v1":
            obj["apiVersion"] = "policy/v1beta1"
    result = cluster.kubectl("apply", "--dry-run=server", "-f", "-", stdin=dump(checked), check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("(server dry run)") == len(checked)
