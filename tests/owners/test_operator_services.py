"""ToolHive's operator owns its proxy Services: with our webhook and reconciler running, its reconcile
converges for every kind × sessionAffinity × session storage × replicas, and then writes nothing, ever.

The resource's spec.sessionAffinity is the truth; what we say about it goes on the resource, as admission
warnings (affinity-with-redis).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import Owners
from .toolhive_operator import GROUP_VERSION, KINDS, OperatorStandIn, resource_path

pytestmark = pytest.mark.cluster

RECONCILES = 20  # after convergence; each one would be an Update if we fought the operator
AT_MOST = 5  # reconciles to converge: create, then (when the resource changed) one Update


def manifest(kind: str, namespace: str, affinity: str, redis: bool, replicas: int) -> dict[str, Any]:
    required: dict[str, dict[str, Any]] = {
        "MCPServer": {"image": "ghcr.io/example/mcp:1", "transport": "streamable-http"},
        "MCPRemoteProxy": {"remoteUrl": "https://mcp.example.com/mcp"},
        "VirtualMCPServer": {"groupRef": {"name": "tools"}, "incomingAuth": {"type": "anonymous"}},
    }
    spec = {**required[kind], "sessionAffinity": affinity, "replicas": replicas}
    if redis:
        spec["sessionStorage"] = {"provider": "redis", "address": "redis.example.svc:6379"}
    return {
        "apiVersion": GROUP_VERSION,
        "kind": kind,
        "metadata": {"name": "fetch", "namespace": namespace},
        "spec": spec,
    }


def create(owners: Owners, obj: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """kubectl create, as a user (or GitOps) would: the stored resource and our warnings on it."""
    result = owners.kubectl("create", "-f", "-", stdin=json.dumps(obj))
    meta = obj["metadata"]
    stored = owners.kube.get(resource_path(obj["kind"], meta["namespace"], meta["name"]))
    assert stored is not None
    return stored, result.warnings


def converge(operator: OperatorStandIn, resource: dict[str, Any]) -> None:
    for _ in range(AT_MOST):
        if not operator.reconcile(resource):
            return
    raise AssertionError(
        f"the operator never converged: {operator.creates} create(s), {operator.updates} update(s) in "
        f"{AT_MOST} reconciles (something keeps changing its Service back)"
    )


def stays_quiet(owners: Owners, operator: OperatorStandIn, resource: dict[str, Any]) -> dict[str, Any]:
    """RECONCILES more reconciles (and the reconciler's resyncs): not one write by anyone."""
    name = operator.of.service_name(resource["metadata"]["name"])
    path = f"/api/v1/namespaces/{resource['metadata']['namespace']}/services/{name}"
    service = owners.kube.get(path)
    assert service is not None
    writes = (operator.creates, operator.updates)
    ours = owners.ours()
    for _ in range(RECONCILES):
        assert operator.reconcile(resource) is False
    owners.reconciler.settle()
    after = owners.kube.get(path)
    assert after is not None
    assert after["metadata"]["resourceVersion"] == service["metadata"]["resourceVersion"]
    assert (operator.creates, operator.updates) == writes
    assert owners.ours() == ours
    return after


def advice(affinity: str, redis: bool, replicas: int) -> list[str]:
    """affinity-with-redis's warnings, as docs/policies.md states its rules."""
    if replicas > 1 and redis and affinity == "ClientIP":
        return [
            "sessions are in redis: ClientIP pins clients behind a proxy to one pod; use sessionAffinity None"
        ]
    if replicas > 1 and not redis and affinity == "None":
        lost = "a session's requests reach pods that lack it"
        return [f"sessionAffinity None, {replicas} replicas, no redis: {lost}"]
    return []


@pytest.mark.parametrize("replicas", [1, 3])
@pytest.mark.parametrize("redis", [False, True], ids=["memory", "redis"])
@pytest.mark.parametrize("affinity", ["ClientIP", "None"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_operators_proxy_service_converges_and_then_nobody_writes(
    owners: Owners, kind: str, affinity: str, redis: bool, replicas: int
) -> None:
    namespace = owners.namespace()
    resource, warnings = create(owners, manifest(kind, namespace, affinity, redis, replicas))
    said = [
        w.removeprefix("affinity-with-redis: ") for w in warnings if w.startswith("affinity-with-redis: ")
    ]
    assert said == advice(affinity, redis, replicas)

    operator = OperatorStandIn(owners.kube, kind)
    admitted = owners.webhook_requests("Service")
    converge(operator, resource)
    assert operator.creates == 1
    assert owners.webhook_requests("Service") > admitted, "the apiserver did not call our webhook"
    service = stays_quiet(owners, operator, resource)
    assert service["spec"]["sessionAffinity"] == affinity  # the resource's choice, as the operator wrote it
    assert operator.updates == 0


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_following_our_advice_on_the_resource_is_one_update_and_then_quiet(owners: Owners, kind: str) -> None:
    """Redis, three replicas, ClientIP: we advise None. The user sets it on the resource; the operator
    Updates its Service once, and that is the end of it."""
    namespace = owners.namespace()
    resource, warnings = create(owners, manifest(kind, namespace, "ClientIP", True, 3))
    assert any(w.startswith("affinity-with-redis: sessions are in redis") for w in warnings)
    operator = OperatorStandIn(owners.kube, kind)
    converge(operator, resource)

    meta = resource["metadata"]
    patched = owners.kubectl(
        "patch", KINDS[kind].plural + ".toolhive.stacklok.dev", meta["name"], "-n", meta["namespace"],
        "--type", "merge", "-p", json.dumps({"spec": {"sessionAffinity": "None"}}),
    )  # fmt: skip
    assert not [w for w in patched.warnings if w.startswith("affinity-with-redis")]
    changed = owners.kube.get(resource_path(kind, meta["namespace"], meta["name"]))
    assert changed is not None
    converge(operator, changed)
    assert (operator.creates, operator.updates) == (1, 1)
    service = stays_quiet(owners, operator, changed)
    assert service["spec"]["sessionAffinity"] == "None"
    assert "sessionAffinityConfig" not in service["spec"]
