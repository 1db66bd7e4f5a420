"""Services a StatefulSet no longer needs are removed (Kyverno's generate with synchronize), only ours."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_admission.kube import Kube
from mcp_admission.policies.engine.workloads import SKIP_ANNOTATION
from mcp_admission.reconciler.services import MANAGED_BY, MANAGED_BY_LABEL
from tests.support import eventually
from tests.support.kube import (
    converged,
    create_statefulset,
    events,
    gone,
    patch_statefulset,
    service,
    statefulset,
)
from tests.support.reconciler import Start

pytestmark = pytest.mark.cluster
BOTH = ("mcp-web", "mcp-web-headless")


def uid(obj: dict[str, Any] | None) -> str:
    assert obj is not None
    value: str = obj["metadata"]["uid"]
    return value


def create_service(
    kube: Kube, ns: str, name: str, labels: dict[str, str], owner: dict[str, Any] | None
) -> str:
    """A Service made by hand (or by another controller), controlled by `owner` when given; its uid."""
    meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": labels}
    if owner is not None:
        ref = {"apiVersion": "apps/v1", "kind": "StatefulSet", "controller": True}
        meta["ownerReferences"] = [{**ref, "name": owner["metadata"]["name"], "uid": uid(owner)}]
    body = {"metadata": meta, "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}}
    return uid(kube.request("POST", f"/api/v1/namespaces/{ns}/services", body=body))


def test_services_go_when_the_statefulset_is_no_longer_mcp(
    kube: Kube, namespace: str, start_reconciler: Start
) -> None:
    running = start_reconciler(namespace)
    create_statefulset(kube, statefulset("web", namespace))
    eventually(lambda: converged(kube, namespace, "web"), "Services of web")

    patch_statefulset(kube, namespace, "web", {"labels": {"toolhive": None}})
    eventually(lambda: gone(kube, namespace, *BOTH), "both Services removed")
    eventually(lambda: len(events(kube, namespace, "ServiceRemoved")) == 2, "two ServiceRemoved Events")
    removed = events(kube, namespace, "ServiceRemoved")
    assert all(e["involvedObject"]["name"] == "web" and e["type"] == "Normal" for e in removed)
    assert sorted(e["message"] for e in removed) == [
        f"Service {name} removed: not an MCP workload" for name in BOTH
    ]
    running.settle()
    assert running.metric("writes_total", kind="Service") == 4  # two applies, two deletes, nothing more

    patch_statefulset(kube, namespace, "web", {"labels": {"toolhive": "true"}})  # MCP again: they return
    eventually(lambda: converged(kube, namespace, "web"), "Services of web again")


def test_opting_out_of_statefulset_dns_removes_only_the_headless_service(
    kube: Kube, namespace: str, start_reconciler: Start
) -> None:
    start_reconciler(namespace)
    create_statefulset(kube, statefulset("web", namespace))
    eventually(lambda: converged(kube, namespace, "web"), "Services of web")
    sticky = uid(service(kube, namespace, "mcp-web"))

    patch_statefulset(kube, namespace, "web", {"annotations": {SKIP_ANNOTATION: "statefulset-dns"}})
    eventually(lambda: gone(kube, namespace, "mcp-web-headless"), "the headless Service removed")
    (event,) = eventually(lambda: events(kube, namespace, "ServiceRemoved"), "a ServiceRemoved Event")
    assert "mcp-web-headless" in event["message"] and "statefulset-dns" in event["message"]
    assert uid(service(kube, namespace, "mcp-web")) == sticky


def test_the_governing_service_stays_whatever_the_statefulset_becomes(
    kube: Kube, namespace: str, start_reconciler: Start
) -> None:
    """As the webhook's statefulset-dns policy makes them: serviceName is mcp-web-headless, for good."""
    running = start_reconciler(namespace)
    governed = statefulset("web", namespace)
    governed["spec"]["serviceName"] = "mcp-web-headless"
    create_statefulset(kube, governed)
    eventually(lambda: converged(kube, namespace, "web"), "Services of web")
    headless = uid(service(kube, namespace, "mcp-web-headless"))

    patch_statefulset(kube, namespace, "web", {"labels": {"toolhive": None}})
    eventually(lambda: gone(kube, namespace, "mcp-web"), "the sticky Service removed")
    patch_statefulset(kube, namespace, "web", {"annotations": {SKIP_ANNOTATION: "*"}})
    for _ in range(2):
        running.settle()
    assert uid(service(kube, namespace, "mcp-web-headless")) == headless  # its pods' DNS names
    assert [e["message"] for e in events(kube, namespace, "ServiceRemoved")] == [
        "Service mcp-web removed: not an MCP workload"
    ]


def test_services_that_are_not_ours_for_this_statefulset_stay(
    kube: Kube, namespace: str, start_reconciler: Start
) -> None:
    running = start_reconciler(namespace)
    web = create_statefulset(kube, statefulset("web", namespace))
    other = create_statefulset(kube, statefulset("other", namespace))
    eventually(lambda: converged(kube, namespace, "web") and converged(kube, namespace, "other"), "Services")
    # Every policy opted out: web needs nothing, and ours go (so removal did run for web).
    patch_statefulset(kube, namespace, "web", {"annotations": {SKIP_ANNOTATION: "*"}})
    eventually(lambda: gone(kube, namespace, *BOTH), "web's own Services removed")

    ours = {MANAGED_BY_LABEL: MANAGED_BY}
    uids = {
        # Controlled by web, but without our label: someone else's.
        "mcp-web": create_service(kube, namespace, "mcp-web", {"team": "a"}, web),
        # Our label, but another StatefulSet controls it.
        "mcp-web-headless": create_service(kube, namespace, "mcp-web-headless", ours, other),
    }
    create_statefulset(kube, statefulset("api", namespace, annotations={SKIP_ANNOTATION: "*"}))
    uids["mcp-api"] = create_service(kube, namespace, "mcp-api", ours, None)  # our label, no owner
    writes = running.metric("writes_total", kind="Service")
    for _ in range(3):
        running.settle()
    assert {name: uid(service(kube, namespace, name)) for name in uids} == uids
    assert running.metric("writes_total", kind="Service") == writes
    assert len(events(kube, namespace, "ServiceRemoved")) == 2  # web's own two only
    assert converged(kube, namespace, "other")


def test_a_service_changed_or_recreated_since_the_cache_saw_it_stays(
    kube: Kube, namespace: str, start_reconciler: Start
) -> None:
    running = start_reconciler(namespace)
    web = create_statefulset(kube, statefulset("web", namespace))
    eventually(lambda: converged(kube, namespace, "web"), "Services of web")
    live = service(kube, namespace, "mcp-web")
    assert live is not None
    writes = running.metric("writes_total", kind="Service")
    # What a stale cache would hold: the uid of a Service deleted since, or an older resourceVersion.
    for stale in ({"uid": "00000000-0000-0000-0000-000000000000"}, {"resourceVersion": "1"}):
        cached = {**live, "metadata": {**live["metadata"], **stale}}
        running.reconciler.services._remove(
            web, cached, "a test"
        )  # the precondition fails (409): nothing to do
        assert uid(service(kube, namespace, "mcp-web")) == uid(live)
    assert running.metric("writes_total", kind="Service") == writes
    assert not events(kube, namespace, "ServiceRemoved")
