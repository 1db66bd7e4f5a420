"""statefulset-dns names a headless Service only for a StatefulSet that gets one (engine/backend.py):
never stdio, which ToolHive and the reconciler give no Services; served when no transport is said."""

from __future__ import annotations

from typing import Any

import jsonpatch
import pytest

from mcp_admission.policies import (
    Decision,
    Operation,
    PolicyConfig,
    Request,
    decide,
    statefulset_dns,
    warning_text,
)
from mcp_admission.policies.engine.workloads import TOOLHIVE_TRANSPORT_LABEL
from mcp_admission.records import validate

from .apiserver_rules import statefulset_update_problems
from .toolhive_objects import backend_statefulset, request_for

CONFIG = PolicyConfig()
ENFORCE = validate(PolicyConfig, {"policies": {"statefulset-dns": {"mode": "enforce"}}})


def dns(request: Request, config: PolicyConfig = CONFIG) -> Decision:
    return decide(request, config, policies=(statefulset_dns.POLICY,))


def stdio(service_name: str = "fetch") -> dict[str, Any]:
    sts = backend_statefulset("fetch", transport="stdio")
    sts["spec"]["serviceName"] = service_name
    return sts


def test_a_stdio_statefulset_is_not_named_after_a_service_that_will_never_exist() -> None:
    assert dns(request_for(stdio())) == Decision()
    assert dns(request_for(stdio()), ENFORCE) == Decision()  # nothing wrong: nothing to deny


def test_updating_a_stdio_statefulset_says_nothing_about_pod_dns() -> None:
    """It needs none: no "recreate" advice (and in enforce, no denial) on every re-apply."""
    assert dns(request_for(stdio(), Operation.UPDATE, old=stdio())) == Decision()
    assert dns(request_for(stdio(), Operation.UPDATE, old=stdio()), ENFORCE) == Decision()


def test_a_stdio_statefulset_named_by_an_earlier_version_keeps_its_name() -> None:
    """serviceName is immutable: ToolHive's runner re-applying `serviceName: fetch` would be refused."""
    request = request_for(stdio(), Operation.UPDATE, old=stdio("mcp-fetch-headless"))
    decision = dns(request)
    result = jsonpatch.apply_patch(request.object, list(decision.patch))
    assert result["spec"]["serviceName"] == "mcp-fetch-headless"
    assert statefulset_update_problems(request.old_object, result) == []
    assert [warning_text(w) for w in decision.warnings] == [
        "statefulset-dns: kept serviceName mcp-fetch-headless: it is immutable"
    ]
    assert dns(request, ENFORCE).allowed  # a fixed finding: never denied
    # And a stdio StatefulSet that keeps that name is left as it is.
    kept = request_for(stdio("mcp-fetch-headless"), Operation.UPDATE, old=stdio("mcp-fetch-headless"))
    assert dns(kept) == Decision()


def test_a_statefulset_that_names_no_transport_is_served() -> None:
    """Marked as an MCP workload (ToolHive's label, or the opt-in label) without saying a transport."""
    sts = backend_statefulset("fetch")
    del sts["metadata"]["labels"][TOOLHIVE_TRANSPORT_LABEL]
    assert list(dns(request_for(sts)).patch) == [
        {"op": "replace", "path": "/spec/serviceName", "value": "mcp-fetch-headless"}
    ]
    opt_in = backend_statefulset("notes")
    opt_in["metadata"]["labels"] = {"mcp-admission.io/workload": "true", "app": "notes"}
    assert applied_name(request_for(opt_in)) == "mcp-notes-headless"


def applied_name(request: Request) -> Any:
    return jsonpatch.apply_patch(request.object, list(dns(request).patch))["spec"]["serviceName"]


@pytest.mark.parametrize(
    ("selector", "reason"),
    [
        (
            {"matchLabels": {"app": "fetch"}, "matchExpressions": [{"key": "a", "operator": "Exists"}]},
            "selector uses matchExpressions, which a Service selector cannot express",
        ),
        ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, "selector uses matchExpressions"),
        ({}, "selector has no matchLabels"),
    ],
)
def test_a_selector_no_service_can_express_gets_no_name_and_says_why(
    selector: dict[str, Any], reason: str
) -> None:
    sts = backend_statefulset("fetch")
    sts["spec"]["selector"] = selector
    decision = dns(request_for(sts))
    assert decision.patch == ()
    (warning,) = decision.warnings
    assert warning_text(warning).startswith(f"statefulset-dns: no pod DNS: {reason}")
    assert not dns(request_for(sts), ENFORCE).allowed  # enforce: no patch can give it pod DNS


def test_a_statefulset_without_a_declared_port_still_gets_its_name() -> None:
    """Pod DNS needs no port: the reconciler makes the headless Service without one."""
    sts = backend_statefulset("fetch")
    del sts["metadata"]["labels"]["toolhive-port"]
    del sts["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert applied_name(request_for(sts)) == "mcp-fetch-headless"
