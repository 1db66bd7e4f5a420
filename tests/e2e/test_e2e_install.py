"""The install itself: every overlay is valid for the apiserver, and each ServiceAccount can do exactly
what its part needs."""

from __future__ import annotations

import base64
import json
import os
import signal
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mcp_admission import environment
from tests.support import eventually, free_port, service_link_variables
from tests.support.objects import OPT_IN, service

from .cluster import RECONCILER_SA, WEBHOOK_NS, WEBHOOK_SA, Cluster, service_account_kubeconfig
from .harness import MODERN, OVERLAYS, Kubectl, Process, config_text, dump, find, render, run_cli

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
        # Every write names its writer: managedFields say who owns the Secrets and the caBundles.
        written = [tls, kubectl.get("secret", "mcp-admission-ca", WEBHOOK_NS)]
        written += [kubectl.get(kind, "mcp-admission") for kind in WEBHOOK_CONFIGS]
        for obj in written:
            assert obj is not None
            managers = {entry["manager"] for entry in obj["metadata"]["managedFields"]}
            assert "mcp-admission-certs" in managers and "OpenAPI-Generator" not in managers, managers
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
            assert server.stop(sig=signal.SIGINT) == 0  # no drain (tests/webhook/test_drain.py has it)
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


# Services a user may well add beside ours: each would inject variables named like ours, were the rule
# of mcp_admission/environment.py not kept.
NEIGHBOURS = ("mcp-admission-metrics", "mcp-admission-webhook", "mcp-admission-reconciler", "mcp")
MOUNTED_CONFIG = "/etc/mcp-admission/config/config.yaml"  # the ConfigMap volume's file, in the pods


def _as_kubelet_runs(
    container: dict[str, Any], links: dict[str, str], config: Path, kubeconfig: Path
) -> dict[str, str]:
    """The container's environment as the kubelet makes it: the Services' link variables, then the
    container's own `env` (the downward API's pod name; the mounted config at its path here), and the
    way to the apiserver (a kubeconfig: a process on the host has no service-account token)."""
    env = {"PATH": os.environ["PATH"], **links, "KUBECONFIG": str(kubeconfig)}
    for variable in container.get("env", []):
        if "valueFrom" in variable:
            assert variable["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}, variable
            env[variable["name"]] = f"{container['name']}-7d9f8-x2x4q"
        else:
            env[variable["name"]] = variable["value"]
    assert env[environment.CONFIG] == MOUNTED_CONFIG
    env[environment.CONFIG] = str(config)
    return env


def test_the_shipped_containers_start_under_every_service_link_variable(cluster: Cluster) -> None:
    """`certs ensure`, `serve --manage-certs` and `reconcile` exactly as the shipped pod templates run
    them (args, env, the shipped configuration) beside the link variables of every Service in our
    namespace. Before the variables were renamed, `serve` read MCP_ADMISSION_PORT=tcp://…:443 as its
    port and every install crash-looped."""
    kubectl, work = cluster.kubectl, cluster.dir / "service-links"
    work.mkdir()
    objs = render("overlays/legacy")
    deployments = {d["metadata"]["name"]: d["spec"]["template"]["spec"] for d in find(objs, "Deployment")}
    webhook_pod, reconciler_pod = (
        deployments["mcp-admission-webhook"],
        deployments["mcp-admission-reconciler"],
    )
    assert webhook_pod["enableServiceLinks"] is False and reconciler_pod["enableServiceLinks"] is False
    ports = [{"name": "https", "port": 443}, {"name": "metrics", "port": 8080}]
    services = [
        {"metadata": {"name": "kubernetes"}, "spec": {"clusterIP": "10.96.0.1", "ports": ports[:1]}},
        *find(objs, "Service"),
        *({"metadata": {"name": name}, "spec": {"ports": ports}} for name in NEIGHBOURS),
    ]
    links = service_link_variables(services)
    assert links["MCP_ADMISSION_PORT"].startswith("tcp://")  # what our own Service gives every pod

    # The shipped configuration, but on free loopback ports and the certificate files written below.
    shipped = yaml.safe_load(config_text(objs))
    port = free_port()
    shipped["webhook"].update(
        host="127.0.0.1", port=port, metricsPort=free_port(),
        certFile=str(work / "tls.crt"), keyFile=str(work / "tls.key"),
    )  # fmt: skip
    shipped["reconciler"].update(metricsAddress="127.0.0.1", metricsPort=free_port())
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump(shipped))
    webhook_kubeconfig = service_account_kubeconfig(
        kubectl, cluster.env, WEBHOOK_SA, work / "webhook.kubeconfig"
    )
    reconciler_kubeconfig = service_account_kubeconfig(
        kubectl, cluster.env, RECONCILER_SA, work / "reconciler.kubeconfig"
    )

    ours = {kind: _ca_bundle(kubectl, kind) for kind in WEBHOOK_CONFIGS}
    try:
        (certs,) = webhook_pod["initContainers"]
        ensured = run_cli(*certs["args"], env=_as_kubelet_runs(certs, links, config, webhook_kubeconfig))
        assert ensured.returncode == 0, ensured.stderr
        tls = kubectl.get("secret", "mcp-admission-tls", WEBHOOK_NS)
        assert tls is not None
        for key in ("tls.crt", "tls.key", "ca.crt"):
            (work / key).write_bytes(base64.b64decode(tls["data"][key]))

        (serving,) = webhook_pod["containers"]
        server = Process(
            serving["args"], work / "serve.log", _as_kubelet_runs(serving, links, config, webhook_kubeconfig)
        )
        server.start()
        try:
            trust = ssl.create_default_context(cafile=str(work / "ca.crt"))
            trust.check_hostname = False  # the certificate names the Service, not 127.0.0.1
            with httpx.Client(verify=trust, timeout=5) as https:
                readyz = f"https://127.0.0.1:{port}/readyz"
                eventually(lambda: server.exited or _answers(https, readyz), "serve to be ready")
                assert not server.exited, server.log.read_text()
        finally:
            assert server.stop(sig=signal.SIGINT) == 0, server.log.read_text()  # no drain, as above
    finally:
        _set_ca_bundles(kubectl, ours)  # back to the CA of the webhook these tests run on loopback

    (reconciling,) = reconciler_pod["containers"]
    standby = Process(
        reconciling["args"],
        work / "reconcile.log",
        _as_kubelet_runs(reconciling, links, config, reconciler_kubeconfig),
    )
    standby.start()
    try:
        # The session's reconciler holds the Lease: this one stands by, and says so once, naming it.
        lease = kubectl.get("lease", "mcp-admission-reconciler", WEBHOOK_NS)
        assert lease is not None
        holder = lease["spec"]["holderIdentity"]
        said = eventually(
            lambda: [line for line in standby.json_lines() if line["message"].startswith("standing by")],
            "the standby to say who holds the Lease",
        )
        assert said[0]["holder"] == holder
        assert (said[0]["kind"], said[0]["namespace"], said[0]["name"]) == (
            "Lease",
            "mcp-admission",
            "mcp-admission-reconciler",
        )
    finally:
        assert standby.stop() == 0, standby.log.read_text()


def _answers(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False
