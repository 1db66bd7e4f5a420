"""The reconciler against a real kube-apiserver + controller-manager (tools/control-plane)."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_admission.kube import APPLY_PATCH, JSON_PATCH, MERGE_PATCH, Kube
from mcp_admission.policies.engine.workloads import SKIP_ANNOTATION
from mcp_admission.reconciler.controller import FIELD_MANAGER
from tests.support import eventually
from tests.support.kube import (
    converged,
    create_statefulset,
    events,
    gone,
    patch_statefulset,
    service,
    statefulset,
    sts_path,
)
from tests.support.reconciler import Running, Start

pytestmark = pytest.mark.cluster


def test_creates_owned_services_and_the_garbage_collector_removes_them(
    kube: Kube, namespace: str, start_reconciler: Start
) -> None:
    running = start_reconciler(namespace)
    created = create_statefulset(kube, statefulset("web", namespace))
    services = eventually(lambda: converged(kube, namespace, "web"), "Services of web")
    assert sorted(s["metadata"]["name"] for s in services) == ["mcp-web", "mcp-web-headless"]
    for svc in services:
        (owner,) = svc["metadata"]["ownerReferences"]
        assert owner["uid"] == created["metadata"]["uid"]
        assert owner["controller"] is True and owner["blockOwnerDeletion"] is True
    headless = service(kube, namespace, "mcp-web-headless")
    assert headless and headless["spec"]["clusterIP"] == "None"
    assert running.metric("writes_total", kind="Service") == 2

    kube.request("DELETE", sts_path(namespace, "web"), body={"propagationPolicy": "Background"})
    eventually(
        lambda: gone(kube, namespace, "mcp-web", "mcp-web-headless"),
        "garbage collection of the Services",
        timeout=60,
    )


def test_drift_is_repaired_and_foreign_labels_are_kept(
    kube: Kube, namespace: str, start_reconciler: Start
) -> None:
    start_reconciler(namespace)
    create_statefulset(kube, statefulset("web", namespace))
    eventually(lambda: converged(kube, namespace, "web"), "Services of web")

    # By hand: delete one Service; remove a port, our label and the selector from the other, and add a
    # foreign label (a cloud's, say). Removing takes no field from us, so nothing conflicts.
    kube.request("DELETE", f"/api/v1/namespaces/{namespace}/services/mcp-web-headless")
    kube.request(
        "PATCH",
        f"/api/v1/namespaces/{namespace}/services/mcp-web",
        body=[
            {"op": "remove", "path": "/spec/selector"},
            {"op": "remove", "path": "/metadata/labels/app.kubernetes.io~1managed-by"},
            {"op": "add", "path": "/metadata/labels/cloud.example~1neg", "value": "keep-me"},
            {"op": "replace", "path": "/spec/ports", "value": [{"name": "other", "port": 9999}]},
        ],
        content_type=JSON_PATCH,
    )
    eventually(lambda: converged(kube, namespace, "web"), "drift repair")
    sticky = service(kube, namespace, "mcp-web")
    assert sticky and sticky["metadata"]["labels"]["cloud.example/neg"] == "keep-me"
    assert sorted(p["port"] for p in sticky["spec"]["ports"]) == [8080, 9999]  # the foreign port stays

    # The StatefulSet opts out of session-affinity: our own mcp-web follows (None, no config).
    patch_statefulset(kube, namespace, "web", {"annotations": {SKIP_ANNOTATION: "session-affinity"}})
    sticky = eventually(
        lambda: (s := service(kube, namespace, "mcp-web")) and s["spec"]["sessionAffinity"] == "None" and s,
        "opt-out applied",
    )
    assert "sessionAffinityConfig" not in sticky["spec"]
    assert converged(kube, namespace, "web")


def test_a_conflicting_field_manager_is_left_alone_with_an_event(
    kube: Kube, namespace: str, start_reconciler: Start
) -> None:
    running = start_reconciler(namespace)
    create_statefulset(kube, statefulset("web", namespace))
    eventually(lambda: converged(kube, namespace, "web"), "Services of web")
    # Another applier (as ToolHive's proxy runner or Flux would) takes sessionAffinity with another value.
    kube.request(
        "PATCH",
        f"/api/v1/namespaces/{namespace}/services/mcp-web",
        (("fieldManager", "thv-proxyrunner"), ("force", "true")),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "mcp-web", "namespace": namespace},
            "spec": {"sessionAffinity": "None"},
        },
        APPLY_PATCH,
    )
    eventually(lambda: events(kube, namespace, "ServiceFieldConflict"), "a conflict Event")
    (event,) = events(kube, namespace, "ServiceFieldConflict")
    assert event["involvedObject"]["kind"] == "StatefulSet" and event["involvedObject"]["name"] == "web"
    assert "sessionAffinity" in event["message"] and "thv-proxyrunner" in event["message"]
    running.settle()
    conflicts, writes = running.metric("conflicts_total"), running.metric("writes_total", kind="Service")
    version = service(kube, namespace, "mcp-web")["metadata"]["resourceVersion"]  # type: ignore[index]

    for _ in range(3):  # resyncs: no retry, no Event, no write, no flapping
        running.settle()
    assert running.metric("conflicts_total") == conflicts == 1
    assert running.metric("writes_total", kind="Service") == writes
    assert len(events(kube, namespace, "ServiceFieldConflict")) == 1
    live = service(kube, namespace, "mcp-web")
    assert live and live["metadata"]["resourceVersion"] == version
    assert live["spec"]["sessionAffinity"] == "None"


def test_a_service_made_by_someone_else_is_not_taken_over(
    kube: Kube, namespace: str, start_reconciler: Start
) -> None:
    # As ToolHive's operator does: it created mcp-web itself (an Update, not an apply), round-robin.
    foreign = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "mcp-web", "namespace": namespace},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "port-8080", "port": 8080}]},
    }
    kube.request(
        "POST", f"/api/v1/namespaces/{namespace}/services", (("fieldManager", "thv-operator"),), foreign
    )
    create_statefulset(kube, statefulset("web", namespace))
    running = start_reconciler(namespace)
    eventually(lambda: events(kube, namespace, "ServiceFieldConflict"), "a conflict Event")
    assert "thv-operator" in events(kube, namespace, "ServiceFieldConflict")[0]["message"]
    eventually(lambda: service(kube, namespace, "mcp-web-headless"), "the headless Service all the same")
    running.settle()
    version = service(kube, namespace, "mcp-web")["metadata"]["resourceVersion"]  # type: ignore[index]
    for _ in range(3):
        running.settle()
    assert running.metric("conflicts_total") == 1
    assert len(events(kube, namespace, "ServiceFieldConflict")) == 1
    live = service(kube, namespace, "mcp-web")
    assert (
        live and live["metadata"]["resourceVersion"] == version and live["spec"]["sessionAffinity"] == "None"
    )


def test_zero_writes_at_rest(kube: Kube, namespace: str, start_reconciler: Start) -> None:
    running = start_reconciler(namespace)
    names = ["a", "b", "c"]
    for name in names:
        create_statefulset(kube, statefulset(name, namespace))
    eventually(lambda: all(converged(kube, namespace, name) for name in names), "Services of a, b, c")
    running.settle()

    def ours() -> dict[str, Any]:
        """What our code wrote: every Service here (only the reconciler makes them), and our field
        manager's entries on the StatefulSets. The StatefulSet controller bumps the StatefulSets'
        resourceVersions at its own pace (status), so those are not compared."""
        services = kube.request("GET", f"/api/v1/namespaces/{namespace}/services")["items"]
        statefulsets = kube.request("GET", f"/apis/apps/v1/namespaces/{namespace}/statefulsets")["items"]
        return {
            **{f"Service/{s['metadata']['name']}": s["metadata"]["resourceVersion"] for s in services},
            **{
                f"StatefulSet/{s['metadata']['name']}": [
                    entry
                    for entry in s["metadata"].get("managedFields") or []
                    if entry.get("manager") == FIELD_MANAGER
                ]
                for s in statefulsets
            },
        }

    def writes(running: Running) -> dict[str, float]:
        return {
            kind: running.metric("writes_total", kind=kind) for kind in ("Service", "StatefulSet", "Event")
        }

    before, written = ours(), writes(running)
    reconciles = running.metric("reconciles_total", result="ok")
    running.settle()
    running.settle()
    assert running.metric("reconciles_total", result="ok") >= reconciles + 2 * len(names)  # it did look
    assert writes(running) == written
    assert ours() == before
    # A fresh process (restart, new leader) at rest writes nothing either.
    fresh = start_reconciler(namespace)
    fresh.settle()
    assert writes(fresh) == {"Service": 0, "StatefulSet": 0, "Event": 0}
    assert ours() == before


def test_stdio_statefulset_is_scaled_back_with_an_event(
    kube: Kube, namespace: str, start_reconciler: Start, control_plane: Any
) -> None:
    running = start_reconciler(namespace)
    create_statefulset(kube, statefulset("cli", namespace, transport="stdio", replicas=3))
    eventually(
        lambda: kube.get(sts_path(namespace, "cli"))["spec"]["replicas"] == 1,  # type: ignore[index]
        "scale back to 1",
    )
    eventually(lambda: events(kube, namespace, "StdioReplicasCapped"), "a scale-back Event")
    assert "spec.replicas 3 -> 1" in events(kube, namespace, "StdioReplicasCapped")[0]["message"]
    running.settle()
    assert service(kube, namespace, "mcp-cli") is None  # stdio has no backend Services
    # Scaled up again from outside (an HPA, kubectl scale): that writer owns the count. Scaling back on
    # each of its syncs would never end (tests/owners): said once, left to it.
    kube.request(
        "PATCH",
        sts_path(namespace, "cli") + "/scale",
        body={"spec": {"replicas": 2}},
        content_type=MERGE_PATCH,
    )
    eventually(lambda: events(kube, namespace, "StdioReplicasContested"), "a left-alone Event")
    assert "scaled to 2 again" in events(kube, namespace, "StdioReplicasContested")[0]["message"]
    running.settle()
    assert kube.get(sts_path(namespace, "cli"))["spec"]["replicas"] == 2  # type: ignore[index]
    assert running.metric("writes_total", kind="StatefulSet") == 1


def test_a_service_the_apiserver_refuses_is_reported_once(
    kube: Kube, namespace: str, start_reconciler: Start
) -> None:
    running = start_reconciler(namespace)
    create_statefulset(kube, statefulset("web", namespace))
    eventually(lambda: converged(kube, namespace, "web"), "Services of web")
    # By hand: our port moves to 9999 but keeps its name, so our port 8080 could only come back with a
    # duplicate name (422). Retrying cannot help: one Event, then quiet until something changes.
    kube.request(
        "PATCH",
        f"/api/v1/namespaces/{namespace}/services/mcp-web",
        body=[{"op": "replace", "path": "/spec/ports/0/port", "value": 9999}],
        content_type=JSON_PATCH,
    )
    eventually(lambda: events(kube, namespace, "ServiceApplyRejected"), "a rejection Event")
    running.settle()
    errors = running.metric("errors_total")
    for _ in range(3):
        running.settle()
    assert running.metric("errors_total") == errors
    assert len(events(kube, namespace, "ServiceApplyRejected")) == 1
    assert "Duplicate value" in events(kube, namespace, "ServiceApplyRejected")[0]["message"]
