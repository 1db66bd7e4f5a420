"""Properties over generated objects: idempotent, silent on non-MCP objects, never raising."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_admission.policies import (
    ALL_POLICIES,
    Decision,
    Operation,
    PolicyConfig,
    Request,
    decide,
    warning_text,
)
from mcp_admission.policies.engine.patch import apply

from .toolhive_objects import (
    backend_service,
    backend_statefulset,
    mcpserver_like,
    proxy_deployment,
    proxy_service,
    request_for,
)

CONFIG = PolicyConfig()
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=30,
)
transports = st.sampled_from(["stdio", "sse", "streamable-http", None])
replica_counts = st.one_of(st.none(), st.integers(min_value=0, max_value=2**31 - 1))
# terminationGracePeriodSeconds: absent, near the default minimum, or any int64.
graces = st.one_of(st.none(), st.integers(0, 60), st.integers(-(2**63), 2**63 - 1))


@st.composite
def mcp_objects(draw: st.DrawFn) -> dict[str, Any]:
    """ToolHive-shaped MCP objects with the fields the policies read set to any valid value."""
    kind = draw(
        st.sampled_from(
            [
                "proxy",
                "backend",
                "headless",
                "sts",
                "deployment",
                "MCPServer",
                "MCPRemoteProxy",
                "VirtualMCPServer",
            ]
        )
    )
    name = draw(st.from_regex(r"[a-z][a-z0-9-]{0,30}[a-z0-9]", fullmatch=True))
    if kind == "proxy":
        obj = proxy_service(name)
    elif kind in ("backend", "headless"):
        obj = backend_service(name, headless=kind == "headless")
    elif kind == "sts":
        transport = draw(transports)
        obj = backend_statefulset(name, transport=transport or "sse", replicas=draw(st.integers(0, 50)))
        if transport is None:  # marked as MCP (toolhive: "true") without saying its transport
            del obj["metadata"]["labels"]["toolhive-transport"]
        obj["spec"]["serviceName"] = draw(st.sampled_from([name, f"mcp-{name}-headless", "other"]))
        if (grace := draw(graces)) is not None:
            obj["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = grace
    elif kind == "deployment":
        obj = proxy_deployment(name)
        obj["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = draw(graces)  # None: null
    else:
        obj = mcpserver_like(kind, name)
        for field in ("replicas", "backendReplicas"):
            if (count := draw(replica_counts)) is not None:
                obj["spec"][field] = count
        if (transport := draw(transports)) is not None and kind == "MCPServer":
            obj["spec"]["transport"] = transport
        if draw(st.booleans()):
            obj["spec"]["sessionStorage"] = {
                "provider": draw(st.sampled_from(["redis", "memory"])),
                "address": "r",
            }
        if (grace := draw(graces)) is not None:
            obj["spec"]["podTemplateSpec"] = {"spec": {"terminationGracePeriodSeconds": grace}}
    if obj["kind"] == "Service":
        obj["spec"]["sessionAffinity"] = draw(st.sampled_from(["None", "ClientIP"]))
        if obj["spec"]["sessionAffinity"] == "ClientIP" and draw(st.booleans()):
            obj["spec"]["sessionAffinityConfig"] = {
                "clientIP": {"timeoutSeconds": draw(st.integers(1, 86400))}
            }
    return obj


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(mcp_objects(), st.sampled_from([Operation.CREATE, Operation.UPDATE]))
def test_deciding_again_after_the_patch_changes_nothing(obj: dict[str, Any], operation: Operation) -> None:
    """reinvocationPolicy: IfNeeded calls the mutating webhook again on its own output."""
    request = request_for(obj, operation, old=obj if operation == Operation.UPDATE else None)
    first = decide(request, CONFIG)
    assert first.errors == ()
    before = copy.deepcopy(request.object)
    patched = apply(request.object, first.patch)  # the engine's own copy-on-write apply ...
    assert patched == jsonpatch.apply_patch(request.object, list(first.patch))  # ... is RFC 6902's
    assert request.object == before
    again = request._replace(object=patched)
    second = decide(again, CONFIG)
    assert second.patch == ()
    assert second.errors == ()


@st.composite
def other_objects(draw: st.DrawFn) -> dict[str, Any]:
    """Objects with no MCP marks: any kind (including EmbeddingServer), labels without ToolHive's."""
    api_version, kind = draw(
        st.sampled_from(
            [
                ("v1", "Service"),
                ("apps/v1", "StatefulSet"),
                ("apps/v1", "Deployment"),
                ("v1", "ConfigMap"),
                ("toolhive.stacklok.dev/v1beta1", "EmbeddingServer"),
                ("toolhive.stacklok.dev/v1beta1", "MCPGroup"),
                ("batch/v1", "Job"),
                ("toolhive.stacklok.dev/v2", "MCPServer"),
            ]
        )
    )
    labels = draw(
        st.dictionaries(
            st.sampled_from(["app", "tier", "toolhive", "app.kubernetes.io/name"]),
            st.sampled_from(["web", "false", "mcp", "nginx"]),
            max_size=3,
        )
    )
    spec = draw(
        st.dictionaries(
            st.sampled_from(["replicas", "transport", "sessionAffinity", "serviceName"]),
            json_values,
            max_size=4,
        )
    )
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "x", "namespace": "ns", "labels": labels},
        "spec": spec,
    }


@given(other_objects(), st.sampled_from(list(Operation)))
def test_objects_that_are_not_mcp_workloads_get_nothing(obj: dict[str, Any], operation: Operation) -> None:
    assert decide(request_for(obj, operation, old=obj), CONFIG) == Decision()


FIELD_PATHS = [
    (),
    ("spec",),
    ("metadata",),
    ("metadata", "labels"),
    ("metadata", "annotations"),
    ("metadata", "ownerReferences"),
    ("metadata", "name"),
    ("spec", "replicas"),
    ("spec", "backendReplicas"),
    ("spec", "transport"),
    ("spec", "sessionStorage"),
    ("spec", "sessionStorage", "provider"),
    ("spec", "sessionAffinity"),
    ("spec", "sessionAffinityConfig"),
    ("spec", "serviceName"),
    ("spec", "clusterIP"),
    ("spec", "clusterIPs"),
    ("spec", "type"),
    ("metadata", "labels", "toolhive-transport"),
    ("metadata", "labels", "toolhive-port"),
    ("spec", "selector"),
    ("spec", "selector", "matchLabels"),
    ("spec", "selector", "matchExpressions"),
    ("spec", "template"),
    ("spec", "template", "spec"),
    ("spec", "template", "spec", "terminationGracePeriodSeconds"),
    ("spec", "podTemplateSpec"),
    ("spec", "podTemplateSpec", "spec"),
    ("spec", "podTemplateSpec", "spec", "terminationGracePeriodSeconds"),
    ("metadata", "annotations", "mcp-admission.io/skip-policies"),
]


def put(obj: Any, path: tuple[str, ...], value: Any) -> Any:
    if not path:
        return value
    if not isinstance(obj, dict):
        obj = {}
    return {**obj, path[0]: put(obj.get(path[0]), path[1:], value)}


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    mcp_objects(),
    st.lists(st.tuples(st.sampled_from(FIELD_PATHS), json_values), min_size=1, max_size=4),
    st.sampled_from([Operation.CREATE, Operation.UPDATE]),
    json_values,
)
def test_no_policy_raises_on_any_value_at_any_field(
    obj: dict[str, Any], changes: list[tuple[tuple[str, ...], Any]], operation: Operation, old: Any
) -> None:
    request = request_for(obj)
    mangled = request.object
    for path, value in changes:
        mangled = put(mangled, path, value)
    before = copy.deepcopy(mangled)
    request = Request(request.group, request.version, request.kind, operation, "ns", "x", mangled, old)
    decision = decide(request, CONFIG)
    assert decision.errors == ()
    assert mangled == before
    for warning in decision.warnings:
        assert warning_text(warning).isprintable() and len(warning_text(warning)) <= 120
    if decision.patch:  # whatever it patches, the patch applies
        jsonpatch.apply_patch(mangled, list(decision.patch))


def test_the_generators_reach_every_policy() -> None:
    """Guard against a vacuous property: the generated objects do trigger each policy."""
    seen: set[str] = set()

    # Made at run time, this @settings does not inherit the profile loaded at import: derandomize it here.
    # A fixed count in every profile: this guards the generators (derandomized, 300 draws reach every
    # policy; 100 do not), it is not a property that more examples would test harder.
    @settings(max_examples=300, database=None, derandomize=True)
    @given(mcp_objects())
    def collect(obj: dict[str, Any]) -> None:
        seen.update(w.policy for w in decide(request_for(obj), CONFIG).warnings)

    collect()
    assert seen == {p.id for p in ALL_POLICIES}
