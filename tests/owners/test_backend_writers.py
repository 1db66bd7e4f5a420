"""The other writers of an MCP server's backend StatefulSet: ToolHive's proxy runner (server-side apply at
every start) and an autoscaler (the scale subresource). With our webhook and reconciler running, each
converges, and then repeating its work changes nothing anyone wrote, and our reconciler sends nothing.

"Changes nothing" is the objects without status (the controller-manager's, at its own pace) and without
the apiserver's bookkeeping: resourceVersion and managedFields times. A runner re-apply whose serviceName
our webhook keeps is not a no-op for the apiserver's field manager (the request differs from what is
stored), so it stamps the runner's managedFields entry with the time of that apply: once per runner
start, with no other change, and nobody reacts to it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.kube import events, service, sts_path

from .autoscaler import AutoscalerStandIn
from .conftest import Owners
from .proxy_runner import RunnerStandIn

pytestmark = pytest.mark.cluster

NAME = "fetch"
REPEATS = 20  # after convergence: runner restarts, autoscaler syncs
AT_MOST = 5  # rounds to converge


def written(obj: dict[str, Any] | None) -> Any:
    """What writers wrote into `obj`: spec and metadata, with each manager's fields (not their times);
    no status, no resourceVersion, nothing of the controller-manager's."""
    if obj is None:
        return None
    meta = {k: v for k, v in obj["metadata"].items() if k not in ("resourceVersion", "managedFields")}
    managers = sorted(
        (m["manager"], m["operation"], json.dumps(m.get("fieldsV1"), sort_keys=True))
        for m in obj["metadata"].get("managedFields") or ()
        if m["manager"] != "kube-controller-manager"
    )
    return {"metadata": meta, "managers": managers, "spec": obj.get("spec")}


def contents(owners: Owners, namespace: str) -> dict[str, Any]:
    """What was written into the StatefulSet, and both backend Services whole (None: absent): nobody
    else writes a Service, so even its resourceVersion must stay."""
    return {
        "statefulset": written(owners.kube.get(sts_path(namespace, NAME))),
        "headless": service(owners.kube, namespace, f"mcp-{NAME}-headless"),
        "sticky": service(owners.kube, namespace, f"mcp-{NAME}"),
    }


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {key: value - before.get(key, 0) for key, value in after.items() if value != before.get(key, 0)}


@pytest.mark.parametrize(
    ("transport", "backend_replicas"),
    [("sse", None), ("sse", 3), ("streamable-http", None), ("stdio", None), ("stdio", 3)],
)
def test_the_proxy_runners_apply_at_every_start_writes_nothing_once_converged(
    owners: Owners, transport: str, backend_replicas: int | None
) -> None:
    namespace = owners.namespace()
    runner = RunnerStandIn(owners.kube, namespace, NAME, transport, backend_replicas)
    runner.start()  # the first start creates the StatefulSet (and, served, its Services)
    owners.quiet_statefulset(namespace, NAME)
    runner.start()  # a restart: it sends its original manifest again (serviceName: the bare name)
    stored = owners.quiet_statefulset(namespace, NAME)
    served = transport != "stdio"
    if served:
        assert stored["spec"]["serviceName"] == f"mcp-{NAME}-headless"  # ours, kept
        sticky = service(owners.kube, namespace, f"mcp-{NAME}")
        assert sticky is not None and sticky["spec"]["sessionAffinity"] == "ClientIP"
        # Both apply it, sharing the fields they both set.
        managers = {m["manager"] for m in sticky["metadata"]["managedFields"]}
        assert {"toolhive-container-manager", "mcp-admission"} <= managers
    if transport == "stdio" and backend_replicas is not None:
        assert stored["spec"]["replicas"] == 1  # capped by stdio-replicas at admission

    before, (patches, writes) = contents(owners, namespace), owners.ours()
    for _ in range(REPEATS):
        runner.start()
    owners.quiet_statefulset(namespace, NAME)
    assert contents(owners, namespace) == before
    assert owners.reconciler_writes() == writes
    # Each re-apply is answered with the same idempotent patch that keeps the stored value (serviceName
    # is immutable; a stdio server runs one replica); the stored object does not change, as shown above.
    # (More answers than applies: the apiserver retries a patch that met a concurrent status update, and
    # asks the webhook again.)
    keeping = "statefulset-dns" if served else "stdio-replicas" if backend_replicas is not None else None
    patched = delta(owners.webhook_patches(), patches)
    assert set(patched) == ({keeping} if keeping else set())
    assert all(count >= REPEATS for count in patched.values())


@pytest.mark.parametrize("transport", ["sse", "stdio"])
def test_an_autoscaler_owns_the_replica_count_and_nobody_fights_it(owners: Owners, transport: str) -> None:
    namespace = owners.namespace()
    RunnerStandIn(owners.kube, namespace, NAME, transport).start()
    owners.quiet_statefulset(namespace, NAME)
    hpa = AutoscalerStandIn(
        owners.kube, sts_path(namespace, NAME), min_replicas=1, max_replicas=3, recommendation=3
    )
    writes = owners.reconciler_writes()
    for _ in range(AT_MOST):
        wrote = hpa.sync()
        owners.quiet_statefulset(namespace, NAME)
        if not wrote:
            break
    else:
        raise AssertionError(
            f"the autoscaler and our reconciler never converge: the autoscaler wrote {hpa.writes} times, "
            f"our reconciler {delta(owners.reconciler_writes(), writes)}"
        )
    scaled = delta(owners.reconciler_writes(), writes).get("StatefulSet", 0)
    if transport == "stdio":
        # Scaled back once (the cap); scaled up again, so someone owns the count: said, and left to it.
        assert scaled == 1
        assert events(owners.kube, namespace, "StdioReplicasContested")
    else:
        assert scaled == 0

    before, ours, hpa_writes = contents(owners, namespace), owners.ours(), hpa.writes
    for _ in range(REPEATS):
        assert hpa.sync() is False
        owners.quiet_statefulset(namespace, NAME)
    assert contents(owners, namespace) == before
    assert owners.ours() == ours
    assert hpa.writes == hpa_writes
    stored = owners.kube.get(sts_path(namespace, NAME))
    assert stored is not None and stored["spec"]["replicas"] == 3  # the autoscaler's count
