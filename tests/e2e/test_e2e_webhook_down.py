"""The webhook process stopped: what failurePolicy Ignore promises (deploy/base/webhooks.yaml)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support import eventually
from tests.support.objects import OPT_IN, configmap, mcpserver, service, statefulset

from .cluster import Cluster

pytestmark = pytest.mark.cluster


@pytest.fixture
def webhook_down(cluster: Cluster) -> Iterator[Cluster]:
    code = cluster.webhook.stop()
    assert code == 0, "SIGTERM is a graceful stop"
    assert not cluster.webhook_ready()
    try:
        yield cluster
    finally:
        cluster.start_webhook()


def _apply(cluster: Cluster, ns: str, manifest: dict[str, object]) -> None:
    # Plain kubectl: with the webhook down, `check`'s prediction is deliberately not what happens.
    result = cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=json.dumps(manifest))
    assert result.warnings == [], result.stderr


def test_with_the_webhook_down_the_cluster_still_accepts_objects(webhook_down: Cluster) -> None:
    cluster = webhook_down
    ns = cluster.namespace("down")
    # Outside MCP scope, in the rules or not: accepted as they are.
    _apply(cluster, ns, configmap("settings"))
    _apply(cluster, ns, service("web"))
    # MCP objects: accepted too, unpatched -- the price of failurePolicy Ignore.
    _apply(cluster, ns, service("weather", OPT_IN))
    _apply(cluster, ns, mcpserver("yardstick", transport="stdio", replicas=3))
    _apply(cluster, ns, statefulset("fetch", transport="sse"))
    weather = cluster.kubectl.get("service", "weather", ns)
    assert weather is not None and weather["spec"]["sessionAffinity"] == "None"
    server = cluster.kubectl.get("mcpserver.toolhive.stacklok.dev", "yardstick", ns)
    assert server is not None and server["spec"]["replicas"] == 3
    fetch = cluster.kubectl.get("statefulset", "fetch", ns)
    assert fetch is not None and fetch["spec"]["serviceName"] == "fetch"
    # What does not depend on the webhook goes on: the reconciler still gives the StatefulSet its
    # Services (pod DNS needs serviceName too, which only a recreate can fix now).
    eventually(
        lambda: (
            cluster.kubectl.get("service", "mcp-fetch", ns)
            and cluster.kubectl.get("service", "mcp-fetch-headless", ns)
        ),
        "the reconciler's Services while the webhook is down",
    )


def test_the_webhook_comes_back(cluster: Cluster) -> None:
    """After the outage (previous test) the same MCP object is patched again."""
    ns = cluster.namespace("back")
    applied = cluster.apply(service("weather", OPT_IN), ns)
    assert applied.stored is not None and applied.stored["spec"]["sessionAffinity"] == "ClientIP"
