"""reconciler/services.py: the Services an MCP StatefulSet needs, pure (no cluster)."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_admission.check.defaults import with_server_defaults
from mcp_admission.policies import Operation, PolicyConfig, Request, decide, statefulset_dns
from mcp_admission.policies.engine.workloads import SKIP_ANNOTATION
from mcp_admission.policies.statefulset_dns import headless_service_name
from mcp_admission.reconciler.services import MANAGED_BY, MANAGED_BY_LABEL, desired_services, plan_services
from mcp_admission.records import validate
from tests.support.kube import statefulset

from ..policies.apiserver_rules import service_problems

CONFIG = PolicyConfig()


def sts(**kwargs: Any) -> dict[str, Any]:
    obj = statefulset("yardstick", "team-a", **kwargs)
    obj["metadata"]["uid"] = "0b7d6f0e-1111-2222-3333-444455556666"
    return obj


def by_name(services: tuple[dict[str, Any], ...]) -> dict[str, dict[str, Any]]:
    return {s["metadata"]["name"]: s for s in services}


def test_toolhive_statefulset_gets_headless_and_sticky_services() -> None:
    services = by_name(desired_services(sts(), CONFIG))
    assert set(services) == {"mcp-yardstick-headless", "mcp-yardstick"}
    headless, sticky = services["mcp-yardstick-headless"], services["mcp-yardstick"]
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert "sessionAffinity" not in headless["spec"]
    assert sticky["spec"]["sessionAffinity"] == "ClientIP"
    assert sticky["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 1800}}
    for svc in services.values():
        assert svc["metadata"]["namespace"] == "team-a"
        assert svc["spec"]["selector"] == {"app": "yardstick"}
        assert svc["spec"]["ports"] == [
            {"name": "port-8080", "port": 8080, "targetPort": 8080, "protocol": "TCP"}
        ]
        assert svc["metadata"]["labels"] == {
            MANAGED_BY_LABEL: MANAGED_BY,
            "mcp-admission.io/workload": "true",
        }
        assert svc["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "name": "yardstick",
                "uid": "0b7d6f0e-1111-2222-3333-444455556666",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert service_problems(with_server_defaults("", "Service", svc)) == []


@pytest.mark.parametrize(
    "annotations",
    [{}, {SKIP_ANNOTATION: "session-affinity"}, {SKIP_ANNOTATION: "statefulset-dns,session-affinity"}],
)
def test_the_webhook_leaves_our_services_unchanged(annotations: dict[str, str]) -> None:
    services = desired_services(sts(annotations=annotations), CONFIG)
    assert services
    for svc in services:
        obj = with_server_defaults("", "Service", copy.deepcopy(svc))
        request = Request("", "v1", "Service", Operation.CREATE, "team-a", svc["metadata"]["name"], obj)
        decision = decide(request, CONFIG)
        assert decision.patch == () and decision.warnings == () and decision.errors == ()
        # The webhook sees them as MCP Services (opt-in label), so this is not the cheap non-MCP path.
        assert obj["metadata"]["labels"]["mcp-admission.io/workload"] == "true"


def test_session_affinity_opt_out_makes_a_round_robin_service() -> None:
    services = by_name(desired_services(sts(annotations={SKIP_ANNOTATION: "session-affinity"}), CONFIG))
    sticky = services["mcp-yardstick"]
    assert sticky["spec"]["sessionAffinity"] == "None"
    assert "sessionAffinityConfig" not in sticky["spec"]
    assert sticky["metadata"]["annotations"] == {SKIP_ANNOTATION: "session-affinity"}
    assert "mcp-yardstick-headless" in services


def test_statefulset_dns_opt_out_drops_the_headless_service() -> None:
    plan = plan_services(sts(annotations={SKIP_ANNOTATION: "statefulset-dns"}), CONFIG)
    assert [s["metadata"]["name"] for s in plan.services] == ["mcp-yardstick"]
    assert plan.skipped and "statefulset-dns" in plan.skipped


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        (sts(transport="stdio"), "transport stdio"),
        (sts(annotations={SKIP_ANNOTATION: "*"}), "opted out"),
        ({**sts(), "metadata": {"name": "x", "namespace": "team-a", "labels": {"app": "x"}}}, "not an MCP"),
        (statefulset("yardstick", "kube-system"), "excluded"),
    ],
)
def test_no_services(obj: dict[str, Any], reason: str) -> None:
    plan = plan_services(obj, CONFIG)
    assert plan.services == () and plan.skipped and reason in plan.skipped


def test_without_a_port_only_the_headless_service() -> None:
    """Pod DNS needs no port (a headless Service may have none); the sticky ClusterIP one does."""
    plan = plan_services(sts(port=None), CONFIG)
    (headless,) = plan.services
    assert headless["metadata"]["name"] == "mcp-yardstick-headless"
    assert headless["spec"]["clusterIP"] == "None" and "ports" not in headless["spec"]
    assert plan.skipped == "no container port and no toolhive-port label: no mcp-yardstick"


def test_a_statefulset_that_names_no_transport_is_served() -> None:
    """Marked as an MCP workload without a transport label: served (only stdio is not)."""
    obj = sts()
    del obj["metadata"]["labels"]["toolhive-transport"]
    assert set(by_name(desired_services(obj, CONFIG))) == {"mcp-yardstick-headless", "mcp-yardstick"}


def test_match_expressions_cannot_become_a_service_selector() -> None:
    obj = sts()
    obj["spec"]["selector"]["matchExpressions"] = [{"key": "tier", "operator": "In", "values": ["a"]}]
    plan = plan_services(obj, CONFIG)
    assert plan.services == () and plan.skipped and "matchExpressions" in plan.skipped


def test_container_ports_when_there_is_no_port_label() -> None:
    obj = sts(port=None)
    obj["spec"]["template"]["spec"]["containers"][0]["ports"] = [
        {"containerPort": 9000, "name": "mcp"},
        {"containerPort": 9100},
        {"containerPort": 9100, "protocol": "UDP"},
    ]
    ports = desired_services(obj, CONFIG)[0]["spec"]["ports"]
    assert ports == [
        {"name": "mcp", "port": 9000, "targetPort": 9000, "protocol": "TCP"},
        {"name": "port-9100", "port": 9100, "targetPort": 9100, "protocol": "TCP"},
        {"name": "port-9100-udp", "port": 9100, "targetPort": 9100, "protocol": "UDP"},
    ]


def test_configuration_names_and_timeout() -> None:
    config = validate(
        PolicyConfig,
        {
            "policies": {
                "session-affinity": {"timeoutSeconds": 600},
                "statefulset-dns": {"serviceNamePattern": "{name}-pods"},
            }
        },
    )
    services = by_name(desired_services(sts(), config))
    assert set(services) == {"yardstick-pods", "mcp-yardstick"}
    assert services["mcp-yardstick"]["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] == 600


def test_opt_in_label_statefulset_without_toolhive() -> None:
    obj = {
        "metadata": {
            "name": "plain",
            "namespace": "n",
            "uid": "u",
            "labels": {"mcp-admission.io/workload": "true", "mcp-admission.io/transport": "streamable-http"},
        },
        "spec": {
            "selector": {"matchLabels": {"run": "plain"}},
            "template": {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 3000}]}]}},
        },
    }
    services = by_name(desired_services(obj, CONFIG))
    assert services["mcp-plain"]["spec"]["selector"] == {"run": "plain"}
    assert services["mcp-plain"]["spec"]["ports"][0]["port"] == 3000


@pytest.mark.parametrize("junk", [None, 3, "x", [], {"metadata": "x"}, {"metadata": {"name": 1}}])
def test_odd_input_gives_nothing(junk: Any) -> None:
    assert desired_services(junk, CONFIG) == ()


@st.composite
def marked_statefulsets(draw: st.DrawFn) -> tuple[dict[str, Any], PolicyConfig]:
    """StatefulSets marked (or not) as MCP in every way, with every transport, selector, port and opt-out,
    and configurations that name the headless Service differently."""
    # 50: mcp-<50>-headless is 63 characters, the longest valid; 51: too long; 60: mcp-<60> too.
    name = draw(st.sampled_from(["yardstick", "a" * 50, "b" * 51, "c" * 60]))
    obj = statefulset(name, draw(st.sampled_from(["team-a", "kube-system"])))
    labels = obj["metadata"]["labels"]
    del labels["toolhive-transport"]
    mark = draw(st.sampled_from(["toolhive", "opt-in", "selector", "none"]))
    if mark != "toolhive":
        del labels["toolhive"]
    if mark == "opt-in":
        labels["mcp-admission.io/workload"] = "true"
    transport = draw(st.sampled_from(["stdio", "sse", "streamable-http", "junk", None]))
    if transport is not None:
        labels[draw(st.sampled_from(["toolhive-transport", "mcp-admission.io/transport"]))] = transport
    if draw(st.booleans()):
        del labels["toolhive-port"]
    if draw(st.booleans()):
        del obj["spec"]["template"]["spec"]["containers"][0]["ports"]
    obj["spec"]["selector"] = draw(
        st.sampled_from(
            [
                {"matchLabels": {"app": name}},
                {"matchLabels": {"app": name}, "matchExpressions": [{"key": "a", "operator": "Exists"}]},
                {},
                {"matchLabels": {"app": 1}},
            ]
        )
    )
    skip = draw(st.sampled_from([None, "statefulset-dns", "session-affinity", "*", "stdio-replicas"]))
    if skip is not None:
        obj["metadata"]["annotations"] = {SKIP_ANNOTATION: skip}
    obj["metadata"]["uid"] = "0b7d6f0e-1111-2222-3333-444455556666"
    obj["spec"]["serviceName"] = "custom"  # no pattern makes it: named after the headless one only by us
    selector: dict[str, Any] = {"matchLabels": {"app": name}}
    if draw(st.booleans()):
        selector["transport"] = draw(st.sampled_from(["stdio", "sse"]))
    config = validate(
        PolicyConfig,
        {
            "policies": {
                "statefulset-dns": {
                    "serviceNamePattern": draw(
                        st.sampled_from(["mcp-{name}-headless", "{name}", "{name}-pods"])
                    )
                }
            },
            "workloads": {"selectors": [selector] if mark == "selector" else []},
        },
    )
    return obj, config


@settings(deadline=None)
@given(marked_statefulsets())
def test_the_webhook_names_a_headless_service_exactly_when_the_reconciler_makes_it(
    case: tuple[dict[str, Any], PolicyConfig],
) -> None:
    """One place decides (policies/engine/backend.py): a StatefulSet never names a headless Service that
    will not exist, and every headless Service the reconciler makes is the one its StatefulSet names."""
    obj, config = case
    meta = obj["metadata"]
    request = Request("apps", "v1", "StatefulSet", Operation.CREATE, meta["namespace"], meta["name"], obj)
    decision = decide(request, config, policies=(statefulset_dns.POLICY,))
    named = jsonpatch.apply_patch(obj, list(decision.patch))["spec"]["serviceName"]
    headless = headless_service_name(meta["name"], config.settings(statefulset_dns.POLICY))
    plan = plan_services(obj, config)
    planned = {svc["metadata"]["name"] for svc in plan.services}
    assert (named == headless) == (headless is not None and headless in planned), (named, plan)
    for warning in decision.warnings:  # "no pod DNS: <why>" is the reconciler's reason too
        if warning.message.startswith("no pod DNS: "):
            assert plan.skipped is not None and warning.message.removeprefix("no pod DNS: ") in plan.skipped
