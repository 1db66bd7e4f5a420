"""What the webhook must leave alone: objects that are not MCP workloads, kube-system, opted-out
namespaces."""

from __future__ import annotations

import json

import pytest

from tests.support import eventually
from tests.support.objects import OPT_IN, configmap, service, statefulset

from .cluster import Cluster

pytestmark = pytest.mark.cluster


def _logged_namespaces(cluster: Cluster) -> set[str]:
    return {e["namespace"] for e in cluster.webhook.json_lines() if e.get("message") == "decision"}


def test_objects_that_are_not_mcp_workloads_pass_untouched(cluster: Cluster) -> None:
    ns = cluster.namespace("plain")
    since = cluster.webhook.log_size()
    svc = cluster.apply(service("web"), ns)
    sts = cluster.apply(statefulset("db", transport=None, replicas=3), ns)
    cm = cluster.apply(configmap("settings"), ns)
    for applied in (svc, sts, cm):
        assert applied.result.returncode == 0 and applied.warnings == []
        assert applied.predicted["patch"] == [] and applied.predicted["warnings"] == []
    assert svc.stored is not None and sts.stored is not None
    assert (
        svc.stored["spec"]["sessionAffinity"] == "None" and "sessionAffinityConfig" not in svc.stored["spec"]
    )
    assert sts.stored["spec"]["serviceName"] == "db" and sts.stored["spec"]["replicas"] == 3

    # The rules do send Services and StatefulSets: the webhook saw them and answered "no patch".
    def seen() -> set[tuple[str, int, tuple[str, ...]]]:
        entries = cluster.decisions(since, "Service", "web") + cluster.decisions(since, "StatefulSet", "db")
        return {(d["kind"], d["patches"], tuple(d["warnings"])) for d in entries}

    expected = {("Service", 0, ()), ("StatefulSet", 0, ())}
    eventually(lambda: len(seen()) >= 2, "the webhook's decisions on web and db", timeout=5)
    assert seen() == expected
    # ConfigMaps are not in the rules: never sent.
    assert cluster.decisions(since, "ConfigMap", "settings") == []


def test_kube_system_is_never_sent_to_the_webhook(cluster: Cluster) -> None:
    # v1.20 sets no kubernetes.io/metadata.name label: the install's opt-out label keeps it out.
    labels = cluster.kubectl.get("namespace", "kube-system")
    assert labels is not None and labels["metadata"]["labels"]["mcp-admission.io/ignore"] == "true"
    applied = cluster.apply(service("mcp-probe", OPT_IN), "kube-system")
    try:
        assert applied.warnings == [] and applied.predicted["patch"] == []
        assert applied.stored is not None and applied.stored["spec"]["sessionAffinity"] == "None"
        _assert_never_sent(cluster, "kube-system")
    finally:
        cluster.kubectl("delete", "service", "mcp-probe", "-n", "kube-system")


def _assert_never_sent(cluster: Cluster, namespace: str) -> None:
    """No decision about `namespace` in the webhook's log, checked after a positive control: the same
    MCP Service in a plain namespace, applied afterwards, is logged (lines are written in order)."""
    control = cluster.apply(service("mcp-probe", OPT_IN), cluster.namespace("control"))
    assert control.warnings and control.stored is not None
    assert control.stored["metadata"]["namespace"] in _logged_namespaces(cluster)
    assert namespace not in _logged_namespaces(cluster)


def test_an_opted_out_namespace_is_never_sent_to_the_webhook(cluster: Cluster) -> None:
    ns = cluster.namespace("optout", labels={"mcp-admission.io/ignore": "true"})
    # Plain kubectl, not cluster.apply: `check` does not know namespace labels (it would patch this).
    result = cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=json.dumps(service("weather", OPT_IN)))
    assert result.warnings == []
    stored = cluster.kubectl.get("service", "weather", ns)
    assert stored is not None and stored["spec"]["sessionAffinity"] == "None"
    _assert_never_sent(cluster, ns)
