"""MCP objects applied with kubectl against the installed webhook: stored patched, warnings shown.

Every `cluster.apply` also asserts parity with `mcp-admission check` (see cluster.Cluster.apply).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.support.objects import IMAGE, OPT_IN, mcpserver, service, statefulset

from .cluster import Cluster

pytestmark = pytest.mark.cluster


def test_mcp_service_gets_session_affinity(cluster: Cluster) -> None:
    ns = cluster.namespace("svc")
    applied = cluster.apply(service("weather", OPT_IN), ns)
    assert applied.result.returncode == 0
    assert applied.stored is not None
    assert applied.stored["spec"]["sessionAffinity"] == "ClientIP"
    assert applied.stored["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 1800}}
    assert [w.split(":")[0] for w in applied.warnings] == ["session-affinity"]


def test_toolhive_statefulset_gets_its_headless_service_name(cluster: Cluster) -> None:
    ns = cluster.namespace("sts")
    applied = cluster.apply(statefulset("fetch", transport="sse"), ns)
    assert applied.stored is not None
    assert applied.stored["spec"]["serviceName"] == "mcp-fetch-headless"
    assert [w.split(":")[0] for w in applied.warnings] == ["statefulset-dns"]


def test_stdio_mcpserver_is_capped_to_one_replica(cluster: Cluster) -> None:
    ns = cluster.namespace("stdio")
    applied = cluster.apply(mcpserver("yardstick", transport="stdio", replicas=3), ns)
    assert applied.stored is not None
    assert applied.stored["spec"]["replicas"] == 1
    # One replica left: no session-storage warning from the validating webhook.
    assert [w.split(":")[0] for w in applied.warnings] == ["stdio-replicas"]
    # The CRD's default transport is stdio: an MCPServer that names none (v1alpha1 too) is capped alike.
    implicit = cluster.apply(mcpserver("implicit", transport=None, replicas=2, version="v1alpha1"), ns)
    assert implicit.stored is not None and implicit.stored["spec"]["replicas"] == 1


def test_sse_mcpserver_without_redis_is_warned_about(cluster: Cluster) -> None:
    ns = cluster.namespace("sse")
    applied = cluster.apply(mcpserver("yardstick", transport="sse", replicas=3), ns)
    assert applied.stored is not None
    assert applied.stored["spec"]["replicas"] == 3  # a warning, not a fix: Redis is the user's call
    assert [w.split(":")[0] for w in applied.warnings] == ["session-storage"]
    assert "sessions are not shared" in applied.warnings[0]
    with_redis = cluster.apply(mcpserver("shared", transport="sse", replicas=3, redis=True), ns)
    assert [w.split(":")[0] for w in with_redis.warnings] == ["affinity-with-redis"]


def test_server_dry_run_warns_alike_and_stores_nothing(cluster: Cluster) -> None:
    ns = cluster.namespace("dry")
    for manifest, resource in (
        (mcpserver("yardstick", transport="sse", replicas=3), "mcpserver.toolhive.stacklok.dev"),
        (mcpserver("tiny", transport="stdio", replicas=3), "mcpserver.toolhive.stacklok.dev"),
        (service("weather", OPT_IN), "service"),
    ):
        applied = cluster.apply(manifest, ns, dry_run=True)
        assert applied.result.returncode == 0 and "(server dry run)" in applied.result.stdout
        assert applied.warnings, "a dry run shows the same warnings"
        assert cluster.kubectl.get(resource, manifest["metadata"]["name"], ns) is None


def test_reapplying_the_original_statefulset_keeps_the_headless_name(cluster: Cluster) -> None:
    """ToolHive, Flux and Argo CD re-apply their manifest (serviceName: <name>) with server-side apply.

    serviceName is immutable: without the webhook putting its value back, every re-apply is refused.
    """
    ns = cluster.namespace("reapply")
    manifest = statefulset("fetch", transport="streamable-http")
    created = cluster.apply(manifest, ns, "--server-side")
    assert created.stored is not None and created.stored["spec"]["serviceName"] == "mcp-fetch-headless"
    manifest["spec"]["template"]["metadata"]["labels"]["rollout"] = "2"  # a real change to roll out
    again = cluster.apply(manifest, ns, "--server-side")
    assert again.result.returncode == 0, again.result.stderr
    assert again.stored is not None and again.stored["spec"]["serviceName"] == "mcp-fetch-headless"
    assert again.stored["spec"]["template"]["metadata"]["labels"]["rollout"] == "2"
    assert [w.split(":")[0] for w in again.warnings] == ["statefulset-dns"]
    assert "immutable" in again.warnings[0]


def test_service_name_change_is_refused_and_was_predicted(cluster: Cluster) -> None:
    """A StatefulSet made before the policy (here: opted out of it) cannot get the headless name by an
    update: the apiserver refuses it, the warning said why, and `check --old` predicted that warning."""
    ns = cluster.namespace("immutable")
    before = statefulset(
        "legacy", transport="sse", annotations={"mcp-admission.io/skip-policies": "statefulset-dns"}
    )
    created = cluster.apply(before, ns, "--server-side")
    assert created.stored is not None and created.stored["spec"]["serviceName"] == "legacy"
    assert created.warnings == []

    after = statefulset("legacy", transport="sse", service_name="mcp-legacy-headless")
    refused = cluster.apply(after, ns, "--server-side")  # parity: check --old predicted the warning
    assert refused.result.returncode != 0
    assert "Forbidden: updates to statefulset spec for fields other than" in refused.result.stderr
    assert [w.split(":")[0] for w in refused.warnings] == ["statefulset-dns"]
    assert "serviceName is immutable" in refused.warnings[0] and "--cascade=orphan" in refused.warnings[0]
    assert refused.predicted["operation"] == "UPDATE"
    stored = cluster.kubectl.get("statefulset", "legacy", ns)
    assert stored is not None and stored["spec"]["serviceName"] == "legacy"


def test_termination_grace_is_raised_where_the_apiserver_accepts_it(cluster: Cluster) -> None:
    """termination-grace on the real apiserver: the raised value is stored on a Deployment's pod template
    and in a ToolHive resource's raw podTemplateSpec; a template without one arrives with the apiserver's
    30 (what `check` replays, so parity holds); re-applying the short value changes nothing stored."""
    ns = cluster.namespace("grace")
    deployment: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "notes", "labels": OPT_IN},
        "spec": {
            "selector": {"matchLabels": {"app": "notes"}},
            "template": {
                "metadata": {"labels": {"app": "notes"}},
                "spec": {"terminationGracePeriodSeconds": 5, "containers": [{"name": "mcp", "image": IMAGE}]},
            },
        },
    }
    raised = cluster.apply(deployment, ns, "--server-side")
    assert raised.result.returncode == 0, raised.result.stderr
    assert raised.stored is not None
    assert raised.stored["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 30
    assert raised.warnings == [
        "termination-grace: terminationGracePeriodSeconds 5 -> 30 so a stopping pod can end its MCP streams"
    ]
    again = cluster.apply(deployment, ns, "--server-side")  # GitOps re-applies its manifest
    assert again.stored is not None and [w.split(":")[0] for w in again.warnings] == ["termination-grace"]
    assert again.stored["metadata"]["generation"] == raised.stored["metadata"]["generation"]  # no rollout

    absent = copy.deepcopy(deployment)
    absent["metadata"]["name"] = "plain"
    del absent["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    left = cluster.apply(absent, ns)
    assert left.stored is not None and left.warnings == [] and left.predicted["patch"] == []
    assert left.stored["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 30

    for version in ("v1alpha1", "v1beta1"):
        server = mcpserver(f"grace-{version}", transport="sse", replicas=1, version=version)
        server["spec"]["podTemplateSpec"] = {"spec": {"terminationGracePeriodSeconds": 0}}
        applied = cluster.apply(server, ns)
        assert applied.stored is not None, applied.result.stderr
        assert applied.stored["spec"]["podTemplateSpec"] == {"spec": {"terminationGracePeriodSeconds": 30}}
        assert [w.split(":")[0] for w in applied.warnings] == ["termination-grace"]
