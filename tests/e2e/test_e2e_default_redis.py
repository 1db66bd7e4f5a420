"""toolhive.defaultSessionStorage through the installed webhook: ToolHive's own resources applied with
kubectl, their warnings as kubectl prints them (and, by Cluster.apply, as `check` predicted them with the
same configuration file)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.policies.toolhive_objects import ADVICE, EXAMPLES, LOST, NOT_SHARED, example

from .cluster import Cluster

pytestmark = pytest.mark.cluster


@pytest.fixture
def default_redis(cluster: Cluster) -> Iterator[Cluster]:
    """The webhook (and `check`) configured for an operator with a default Redis, then as shipped again."""
    shipped = cluster.config.read_text()
    configured = yaml.safe_load(shipped)
    assert configured["toolhive"] == {"defaultSessionStorage": "memory"}  # the shipped default
    configured["toolhive"]["defaultSessionStorage"] = "redis"
    assert cluster.webhook.stop() == 0
    cluster.config.write_text(yaml.safe_dump(configured))
    try:
        cluster.start_webhook()
        yield cluster
    finally:
        assert cluster.webhook.stop() == 0
        cluster.config.write_text(shipped)
        cluster.start_webhook()


def resource(toolhive: Path, kind: str, **spec: Any) -> dict[str, Any]:
    doc = example(toolhive, kind, replicas=2, **spec)
    doc["metadata"].pop("namespace", None)  # applied to the test's namespace
    return doc


def warnings(cluster: Cluster, ns: str, doc: dict[str, Any]) -> list[str]:
    applied = cluster.apply(doc, ns)
    assert applied.result.returncode == 0, applied.result.stderr
    return applied.warnings


def test_as_shipped_the_warnings_are_todays(cluster: Cluster, toolhive: Path) -> None:
    ns = cluster.namespace("redis-default")
    for kind in EXAMPLES:
        assert warnings(cluster, ns, resource(toolhive, kind)) == [NOT_SHARED]
        none = resource(toolhive, kind, sessionAffinity="None")
        assert sorted(warnings(cluster, ns, none)) == sorted([NOT_SHARED, LOST])


def test_with_the_operators_default_redis_no_false_session_warnings(
    default_redis: Cluster, toolhive: Path
) -> None:
    cluster = default_redis
    ns = cluster.namespace("redis-default")
    for kind in EXAMPLES:
        # No sessionStorage: the operator's Redis shares them. ClientIP (the CRD default) gets the
        # advice any Redis gets; None is right, and nothing is said.
        assert warnings(cluster, ns, resource(toolhive, kind)) == [ADVICE]
        assert warnings(cluster, ns, resource(toolhive, kind, sessionAffinity="None")) == []
    # An explicit memory: the remote proxy keeps it (populateScalingConfigForRemoteProxy), so its warning
    # stays; an MCPServer falls back to the default Redis for any provider but redis (populateScalingConfig).
    memory = {"sessionStorage": {"provider": "memory"}, "sessionAffinity": "None"}
    kept = resource(toolhive, "MCPRemoteProxy", **memory)
    kept["metadata"]["name"] += "-memory"
    assert sorted(warnings(cluster, ns, kept)) == sorted([NOT_SHARED, LOST])
    server = resource(toolhive, "MCPServer", **memory)
    server["metadata"]["name"] += "-memory"
    assert warnings(cluster, ns, server) == []
