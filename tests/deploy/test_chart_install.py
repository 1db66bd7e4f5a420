"""The chart installed by the real helm v4.2.3 on the real v1.20 apiserver (tools/control-plane), as a
platform team runs it: every ci/ rendering accepted by `kubectl apply --dry-run=server`; `helm install`
into two namespaces; `helm upgrade` with a changed configuration rolls the pods; `helm uninstall` leaves
no webhook configuration, and writes go on.

The plane has no nodes: pods stay Pending, which is all these need (the Deployments' ReplicaSets show
the rollout). On the session's control plane: the chart registers cluster-wide webhooks (and a release
takes the namespace mcp-admission, as the e2e install does), so this module has the plane's cluster-wide
part to itself, and at its end uninstalls whatever a failed test left and deletes its namespaces
(without waiting: tests/support/namespaces.py).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mcp_admission.kube import Kube, api_client
from tests.conftest import ControlPlane
from tests.support import eventually
from tests.support.namespaces import none_terminating

from .helm import CHART, LEGACY, Obj, helm, template_args

pytestmark = pytest.mark.cluster

CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
NOT_ON_THE_PLANE = frozenset({"Certificate", "Issuer", "ServiceMonitor"})  # CRDs it does not have
RELEASES = {"mcp-admission": "mcp-admission", "team-b": "team-b"}  # release → namespace


@pytest.fixture(scope="module")
def plane(cluster_wide: ControlPlane) -> Iterator[ControlPlane]:
    yield cluster_wide
    for release, namespace in {**RELEASES, "bad": "bad"}.items():
        on(cluster_wide, "uninstall", release, "-n", namespace, "--ignore-not-found", check=False)
    kubectl(cluster_wide, "delete", "namespace", "--ignore-not-found", "--wait=false", *NAMESPACES)


def free(plane: ControlPlane, *namespaces: str) -> None:
    """Wait until none of the namespaces a test is about to make is still being deleted (mcp-admission
    may be, by the e2e package before this module). Each test waits for its own, so the others run
    meanwhile; nothing this module installs runs (no nodes), so no other namespace matters to it."""
    none_terminating(Kube(api_client(str(plane.kubeconfig))), among=namespaces)


def dry_run_namespace(values: Path) -> str:
    return "dry-" + values.stem.removesuffix("-values")


NAMESPACES = ["apps", "after", "bad", *RELEASES.values(), *(dry_run_namespace(v) for v in CI_VALUES)]


def kubectl(plane: ControlPlane, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **plane.env}  # HOME too: kubectl keeps its discovery cache there
    return subprocess.run(
        [plane.kubectl, *args], input=stdin, capture_output=True, text=True, timeout=120, env=env
    )


def get(plane: ControlPlane, *args: str) -> Any:
    proc = kubectl(plane, "get", *args, "-o", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def on(plane: ControlPlane, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return helm(*args, check=check, env={"KUBECONFIG": str(plane.kubeconfig)})


def our_webhook_configurations(plane: ControlPlane) -> list[str]:
    names = []
    for kind in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
        names += [
            o["metadata"]["name"]
            for o in get(plane, kind, "-l", "app.kubernetes.io/name=mcp-admission")["items"]
        ]
    return names


def write_an_mcp_service(plane: ControlPlane, namespace: str) -> None:
    """A write the webhooks are sent (an MCP Service): it must succeed, installed or not."""
    service: Obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "mcp-x", "namespace": namespace, "labels": {"toolhive": "true"}},
        "spec": {"selector": {"app": "x"}, "ports": [{"port": 8080, "protocol": "TCP"}]},
    }
    proc = kubectl(plane, "apply", "-f", "-", stdin=json.dumps(service))
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda v: v.name)
def test_every_ci_rendering_is_accepted_by_the_apiserver(plane: ControlPlane, values: Path) -> None:
    namespace = dry_run_namespace(values)
    free(plane, namespace)
    kubectl(plane, "create", "namespace", namespace)
    proc = helm(*template_args(None, LEGACY, namespace, "mcp-admission", files=[values]))
    objs = [o for o in yaml.safe_load_all(proc.stdout) if o and o["kind"] not in NOT_ON_THE_PLANE]
    applied = kubectl(plane, "apply", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump_all(objs))
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.count("(server dry run)") == len(objs)


def test_install_upgrade_uninstall_in_two_namespaces(plane: ControlPlane) -> None:
    free(plane, *RELEASES.values(), "apps", "after")
    for release, namespace in RELEASES.items():
        on(plane, "install", release, str(CHART), "-n", namespace, "--create-namespace")
    assert sorted(our_webhook_configurations(plane)) == sorted(["mcp-admission", "team-b-mcp-admission"] * 2)
    hook = get(plane, "mutatingwebhookconfigurations", "team-b-mcp-admission")["webhooks"][0]
    assert hook["clientConfig"]["service"] == {
        "name": "team-b-mcp-admission", "namespace": "team-b", "path": "/mutate", "port": 443,
    }  # fmt: skip
    assert "matchConditions" not in hook  # 1.20: the legacy configurations
    excluded = {e["key"]: e.get("values") for e in hook["namespaceSelector"]["matchExpressions"]}
    assert excluded["kubernetes.io/metadata.name"] == ["kube-system", "team-b"]
    lease_role = get(plane, "role", "-n", "team-b", "team-b-mcp-admission-reconciler-leader-election")
    assert lease_role["rules"][1]["resourceNames"] == ["team-b-mcp-admission-reconciler"]
    kubectl(plane, "create", "namespace", "apps")
    write_an_mcp_service(plane, "apps")  # no webhook pod runs: failurePolicy Ignore lets it through

    # A changed configuration: the ConfigMap changes, and the pods roll (a new ReplicaSet).
    def replica_sets() -> set[str]:
        items = get(plane, "replicasets", "-n", "team-b", "-l", "app.kubernetes.io/component=webhook")[
            "items"
        ]
        return {o["metadata"]["name"] for o in items}

    before = eventually(replica_sets, "the webhook Deployment's ReplicaSet")
    # The caBundle the product injects at run time (`certs ensure`, another field manager) must outlive
    # an upgrade: Helm's server-side apply leaves fields it never set alone.
    bundle = "Y2E="
    for kind in ("mutatingwebhookconfiguration", "validatingwebhookconfiguration"):
        patch = json.dumps([{"op": "add", "path": "/webhooks/0/clientConfig/caBundle", "value": bundle}])
        proc = kubectl(plane, "patch", kind, "team-b-mcp-admission", "--type", "json", "-p", patch)
        assert proc.returncode == 0, proc.stderr
    config = {"policies": {"session-affinity": {"mode": "enforce"}}}
    on(plane, "upgrade", "team-b", str(CHART), "-n", "team-b", "--set-json", f"config={json.dumps(config)}")
    configmap = get(plane, "configmap", "-n", "team-b", "team-b-mcp-admission-config")
    assert (
        yaml.safe_load(configmap["data"]["config.yaml"])["policies"]["session-affinity"]["mode"] == "enforce"
    )
    after = eventually(lambda: replica_sets() - before, "a new ReplicaSet after the configuration changed")
    assert len(after) == 1
    for kind in ("mutatingwebhookconfiguration", "validatingwebhookconfiguration"):
        client = get(plane, kind, "team-b-mcp-admission")["webhooks"][0]["clientConfig"]
        assert client.get("caBundle") == bundle
    untouched = get(plane, "configmap", "-n", "mcp-admission", "mcp-admission-config")
    assert yaml.safe_load(untouched["data"]["config.yaml"])["policies"]["session-affinity"]["mode"] == "warn"

    for release, namespace in RELEASES.items():
        on(plane, "uninstall", release, "-n", namespace)
    assert our_webhook_configurations(plane) == []
    assert get(plane, "clusterroles", "-l", "app.kubernetes.io/name=mcp-admission")["items"] == []
    kubectl(plane, "create", "namespace", "after")
    write_an_mcp_service(plane, "after")


def test_a_bad_value_installs_nothing(plane: ControlPlane) -> None:
    free(plane, "bad")
    proc = on(
        plane,
        "install",
        "bad",
        str(CHART),
        "-n",
        "bad",
        "--create-namespace",
        "--set",
        "webhook.replica=3",
        check=False,
    )
    assert proc.returncode != 0 and "replica" in proc.stderr
    assert on(plane, "list", "-n", "bad", "-q").stdout.split() == []
