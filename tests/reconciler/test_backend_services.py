"""policies/backend_services.py: the Services an MCP StatefulSet needs, pure (no cluster)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mcp_admission.check.defaults import with_server_defaults
from mcp_admission.policies import Operation, PolicyConfig, Request, decide
from mcp_admission.policies.engine.workloads import SKIP_ANNOTATION
from mcp_admission.reconciler.services import MANAGED_BY, MANAGED_BY_LABEL, desired_services, plan_services

from ..policies.apiserver_rules import service_problems
from .kubehelp import statefulset

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
        (sts(port=None), "no container port"),
    ],
)
def test_no_services(obj: dict[str, Any], reason: str) -> None:
    plan = plan_services(obj, CONFIG)
    assert plan.services == () and plan.skipped and reason in plan.skipped


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
    config = PolicyConfig.model_validate(
        {
            "policies": {
                "session-affinity": {"timeoutSeconds": 600},
                "statefulset-dns": {"serviceNamePattern": "{name}-pods"},
            }
        }
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
