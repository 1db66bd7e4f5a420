"""termination-grace: MCP pod templates keep terminationGracePeriodSeconds at or above the minimum."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import pytest
from pydantic import ValidationError

from mcp_admission.policies import (
    Decision,
    Operation,
    PolicyConfig,
    Request,
    decide,
    termination_grace,
    warning_text,
)
from mcp_admission.policies.engine.workloads import SKIP_ANNOTATION, TOOLHIVE_VERSIONS
from mcp_admission.records import validate

from .toolhive_objects import backend_statefulset, mcpserver_like, proxy_deployment, request_for

CONFIG = PolicyConfig()
FIELD = "terminationGracePeriodSeconds"
POD_SPEC = {"StatefulSet": "/spec/template/spec", "Deployment": "/spec/template/spec"}
CR_POD_SPEC = "/spec/podTemplateSpec/spec"
# The warning and the denial, whole (docs/policies.md shows them).
RAISED = "termination-grace: terminationGracePeriodSeconds {} -> {} so a stopping pod can end its MCP streams"
DENIED = (
    "termination-grace: terminationGracePeriodSeconds must be >= {} so a stopping pod can end its MCP streams"
)


def config(**grace: Any) -> PolicyConfig:
    return validate(PolicyConfig, {"policies": {"termination-grace": grace}})


def opt_in_deployment() -> dict[str, Any]:
    """An MCP server deployed without ToolHive, marked with the opt-in label."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "notes", "namespace": "team", "labels": {"mcp-admission.io/workload": "true"}},
        "spec": {
            "selector": {"matchLabels": {"app": "notes"}},
            "template": {
                "metadata": {"labels": {"app": "notes"}},
                "spec": {"containers": [{"name": "server", "image": "example/notes:1"}]},
            },
        },
    }


def with_grace(obj: dict[str, Any], seconds: Any) -> dict[str, Any]:
    """`obj` with the pod template's grace set (ToolHive resources: in spec.podTemplateSpec)."""
    obj = copy.deepcopy(obj)
    if obj["apiVersion"].startswith("apps/"):
        obj["spec"]["template"]["spec"][FIELD] = seconds
    else:
        obj["spec"]["podTemplateSpec"] = {"spec": {FIELD: seconds}}
    return obj


def resource(kind: str, version: str) -> dict[str, Any]:
    obj = mcpserver_like(kind, "fetch")
    obj["apiVersion"] = f"toolhive.stacklok.dev/{version}"
    return obj


WORKLOADS = {
    "sts": (backend_statefulset("fetch", transport="sse"), POD_SPEC["StatefulSet"]),
    "stdio-sts": (backend_statefulset("fetch", transport="stdio"), POD_SPEC["StatefulSet"]),
    "proxy-deployment": (proxy_deployment("fetch"), POD_SPEC["Deployment"]),
    "opt-in-deployment": (opt_in_deployment(), POD_SPEC["Deployment"]),
    **{
        f"{kind}-{version}": (resource(kind, version), CR_POD_SPEC)
        for kind in ("MCPServer", "MCPRemoteProxy", "VirtualMCPServer")
        for version in sorted(TOOLHIVE_VERSIONS)
    },
}


def grace_of(obj: Any, pod_spec: str) -> Any:
    return jsonpatch.JsonPointer(f"{pod_spec}/{FIELD}").resolve(obj, None)


def ours(decision: Decision) -> list[str]:
    return [warning_text(w) for w in decision.warnings if w.policy == "termination-grace"]


@pytest.mark.parametrize("name", sorted(WORKLOADS))
@pytest.mark.parametrize("operation", [Operation.CREATE, Operation.UPDATE])
def test_a_short_grace_is_raised_to_the_minimum(name: str, operation: Operation) -> None:
    obj, pod_spec = WORKLOADS[name]
    short = with_grace(obj, 5)
    request = request_for(short, operation, old=short if operation is Operation.UPDATE else None)
    decision = decide(request, CONFIG)
    assert {"op": "replace", "path": f"{pod_spec}/{FIELD}", "value": 30} in decision.patch
    result = jsonpatch.apply_patch(request.object, list(decision.patch))
    assert grace_of(result, pod_spec) == 30
    assert ours(decision) == [RAISED.format(5, 30)]
    assert decision.allowed and not decision.errors
    # Idempotent: the mutating webhook may be called again on its own output (reinvocationPolicy).
    again = decide(request._replace(object=result), CONFIG)
    assert not ours(again) and not [op for op in again.patch if op["path"].endswith(FIELD)]


@pytest.mark.parametrize("name", sorted(WORKLOADS))
@pytest.mark.parametrize("seconds", [30, 31, 600, 2**63 - 1])
def test_a_grace_at_or_above_the_minimum_is_left_alone(name: str, seconds: int) -> None:
    obj, _ = WORKLOADS[name]
    decision = decide(request_for(with_grace(obj, seconds)), CONFIG)
    assert not ours(decision) and not [op for op in decision.patch if op["path"].endswith(FIELD)]


@pytest.mark.parametrize("value", [True, False, "5", 5.0, 0.5, None, [5], {"seconds": 5}])
@pytest.mark.parametrize("name", ["sts", "opt-in-deployment", "MCPServer-v1beta1"])
def test_odd_values_are_never_raised(name: str, value: Any) -> None:
    """Not a JSON integer: the apiserver (or ToolHive parsing podTemplateSpec) decides, not us."""
    obj, _ = WORKLOADS[name]
    request = request_for(with_grace(obj, value))
    if obj["apiVersion"].startswith("apps/") and value is None:
        # null is absent: the apiserver defaults it to 30 before we are called (replayed here).
        assert grace_of(request.object, POD_SPEC["Deployment"]) == 30
    decision = decide(request, CONFIG)
    assert not ours(decision) and decision.errors == ()


def test_zero_and_negative_values_are_raised_to_a_value_the_apiserver_accepts() -> None:
    for seconds in (0, -1, -(2**63)):
        request = request_for(with_grace(opt_in_deployment(), seconds))
        decision = decide(request, CONFIG)
        result = jsonpatch.apply_patch(request.object, list(decision.patch))
        value = grace_of(result, POD_SPEC["Deployment"])
        assert isinstance(value, int) and 0 <= value < 2**63 and value == 30  # int64, non-negative
        assert ours(decision) == [RAISED.format(seconds, 30)]


def test_absent_on_a_toolhive_resource_is_left_alone_whatever_the_minimum() -> None:
    """podTemplateSpec is raw (x-kubernetes-preserve-unknown-fields): no default fills it in."""
    cfg = config(minSeconds=120)
    for kind in ("MCPServer", "MCPRemoteProxy", "VirtualMCPServer"):
        bare = resource(kind, "v1beta1")
        assert not ours(decide(request_for(bare), cfg))
        bare["spec"]["podTemplateSpec"] = {"spec": {"nodeSelector": {"pool": "mcp"}}}
        assert not ours(decide(request_for(bare), cfg))
        bare["spec"]["podTemplateSpec"] = {"metadata": {"labels": {"a": "b"}}}
        assert not ours(decide(request_for(bare), cfg))


def test_absent_on_a_pod_template_arrives_as_30_and_is_raised_above_it() -> None:
    """The apiserver defaults the pod template before webhooks run, so "absent" cannot be told from 30:
    a minimum above 30 raises every MCP StatefulSet and Deployment that does not set more."""
    for obj, pod_spec in (WORKLOADS["sts"], WORKLOADS["opt-in-deployment"]):
        assert FIELD not in obj["spec"]["template"]["spec"]
        request = request_for(obj)
        assert grace_of(request.object, pod_spec) == 30
        assert not ours(decide(request, CONFIG))
        decision = decide(request, config(minSeconds=45))
        assert {"op": "replace", "path": f"{pod_spec}/{FIELD}", "value": 45} in decision.patch
        assert ours(decision) == [RAISED.format(30, 45)]


def test_the_minimum_is_configurable() -> None:
    request = request_for(with_grace(proxy_deployment("fetch"), 60))
    assert not ours(decide(request, CONFIG))
    decision = decide(request, config(minSeconds=300))
    assert {"op": "replace", "path": f"/spec/template/spec/{FIELD}", "value": 300} in decision.patch


@pytest.mark.parametrize("minimum", [0, -1, 3601, "x", 30.5])
def test_the_minimum_must_be_sensible(minimum: Any) -> None:
    with pytest.raises(ValidationError, match="termination-grace"):
        config(minSeconds=minimum)


def test_the_minimum_bounds_themselves_are_allowed() -> None:
    assert CONFIG.settings(termination_grace.POLICY).min_seconds == 30
    for minimum in (1, 3600):
        assert config(minSeconds=minimum).settings(termination_grace.POLICY).min_seconds == minimum


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_enforce_denies_instead_of_raising(name: str) -> None:
    obj, _ = WORKLOADS[name]
    decision = decide(request_for(with_grace(obj, 5)), config(mode="enforce"))
    assert not decision.allowed and decision.patch == ()  # a denied object is not stored: no patch
    assert decision.denial is not None and warning_text(decision.denial) == DENIED.format(30)
    fine = decide(request_for(with_grace(obj, 30)), config(mode="enforce"))
    assert fine.allowed


def test_off_mode_and_opt_out() -> None:
    short = with_grace(opt_in_deployment(), 5)
    assert decide(request_for(short), config(mode="off")) == Decision()
    short["metadata"]["annotations"] = {SKIP_ANNOTATION: "termination-grace"}
    assert decide(request_for(short), CONFIG) == Decision()


def test_workloads_that_are_not_mcp_are_never_touched() -> None:
    plain = with_grace(opt_in_deployment(), 5)
    plain["metadata"]["labels"] = {"app": "web"}
    assert decide(request_for(plain), CONFIG) == Decision()
    embedding = with_grace(resource("MCPServer", "v1beta1"), 5)
    embedding["kind"] = "EmbeddingServer"  # stateless inference: not an MCP session workload
    assert decide(request_for(embedding), CONFIG) == Decision()


def test_the_scale_subresource_and_delete_are_not_decided() -> None:
    request = request_for(with_grace(backend_statefulset("fetch"), 5))
    assert decide(request._replace(sub_resource="scale"), CONFIG) == Decision()
    assert decide(Request(**{**request._asdict(), "operation": Operation.DELETE}), CONFIG) == Decision()
