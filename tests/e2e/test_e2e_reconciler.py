"""The reconciler, running as its ServiceAccount (the shipped RBAC), against what users do with kubectl."""

from __future__ import annotations

import pytest

from tests.support import eventually
from tests.support.objects import statefulset

from .cluster import Cluster
from .harness import Obj

pytestmark = pytest.mark.cluster


def _services(cluster: Cluster, ns: str, name: str) -> dict[str, Obj]:
    found = {}
    for svc in (f"mcp-{name}", f"mcp-{name}-headless"):
        obj = cluster.kubectl.get("service", svc, ns)
        if obj is not None:
            found[svc] = obj
    return found


def test_reconciler_creates_owned_services_and_gc_removes_them(cluster: Cluster) -> None:
    ns = cluster.namespace("owned")
    applied = cluster.apply(statefulset("fetch", transport="sse"), ns)
    assert applied.stored is not None
    uid = applied.stored["metadata"]["uid"]
    eventually(lambda: len(_services(cluster, ns, "fetch")) == 2, "mcp-fetch and mcp-fetch-headless")
    services = _services(cluster, ns, "fetch")
    for svc in services.values():
        assert svc["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "name": "fetch",
                "uid": uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert svc["spec"]["selector"] == {"app": "fetch"}
    assert services["mcp-fetch-headless"]["spec"]["clusterIP"] == "None"
    sticky = services["mcp-fetch"]["spec"]
    assert sticky["sessionAffinity"] == "ClientIP"
    assert sticky["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 1800}}

    cluster.kubectl("delete", "statefulset", "fetch", "-n", ns)
    eventually(lambda: not _services(cluster, ns, "fetch"), "garbage collection of the Services", timeout=60)


def test_server_dry_run_gets_no_services(cluster: Cluster) -> None:
    ns = cluster.namespace("dry-reconcile")
    # The same StatefulSet for real first: the reconciler is up and creates Services within seconds.
    cluster.apply(statefulset("real", transport="sse"), ns)
    eventually(lambda: len(_services(cluster, ns, "real")) == 2, "the real StatefulSet's Services")
    dry = cluster.apply(statefulset("ghost", transport="sse"), ns, dry_run=True)
    assert dry.warnings, "the dry run is admitted with its warnings"
    # A StatefulSet applied after the dry run: once the reconciler has made its Services, it has seen
    # everything the dry run could have left behind.
    cluster.apply(statefulset("after", transport="sse"), ns)
    eventually(lambda: len(_services(cluster, ns, "after")) == 2, "the later StatefulSet's Services")
    assert cluster.kubectl.get("statefulset", "ghost", ns) is None
    assert _services(cluster, ns, "ghost") == {}


def test_scaled_stdio_statefulset_is_brought_back_with_an_event(cluster: Cluster) -> None:
    ns = cluster.namespace("scale")
    applied = cluster.apply(statefulset("tiny", transport="stdio", replicas=1), ns)
    assert applied.stored is not None and applied.stored["spec"]["replicas"] == 1
    # `kubectl scale` writes the scale subresource, which no admission webhook of ours sees.
    scaled = cluster.kubectl("scale", "statefulset", "tiny", "--replicas", "3", "-n", ns)
    assert "scaled" in scaled.stdout

    def replicas() -> int:
        sts = cluster.kubectl.get("statefulset", "tiny", ns)
        assert sts is not None
        value: int = sts["spec"]["replicas"]
        return value

    eventually(lambda: replicas() == 1, "the reconciler to scale tiny back to 1", timeout=20)
    events = cluster.kubectl(
        "get", "events", "-n", ns, "-o", "json",
        "--field-selector", "involvedObject.kind=StatefulSet,involvedObject.name=tiny",
    ).json()["items"]  # fmt: skip
    capped = [e for e in events if e["reason"] == "StdioReplicasCapped"]
    assert capped, [e["reason"] for e in events]
    assert capped[0]["type"] == "Warning"
    assert "stdio" in capped[0]["message"] and "3" in capped[0]["message"]
