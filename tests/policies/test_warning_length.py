"""Every warning the policies can give fits whole in MAX_WARNING_RUNES, for the longest legal names.

The engine cuts a longer one with "…" as a last resort (the apiserver's budget); a cut warning loses
its advice, so no policy may ever need the cut.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_admission.policies import Operation, PolicyConfig, decide, warning_text
from mcp_admission.policies.engine.decide import MAX_WARNING_RUNES
from mcp_admission.records import validate

from .toolhive_objects import (
    backend_service,
    backend_statefulset,
    mcpserver_like,
    proxy_deployment,
    proxy_service,
    request_for,
)

# DNS labels up to 63 characters: the longest names a Service, a StatefulSet's pods or a namespace take.
labels = st.from_regex(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True)
longest = st.sampled_from(["a" * 63, "m" + "-" * 61 + "z", "x" * 57])  # and some at the limit
names = st.one_of(labels, longest)
counts = st.sampled_from([0, 1, 2, 3, 10, 2**31 - 1])  # int32, as the schemas allow
graces = st.sampled_from([-(2**63), -1, 0, 5, 29, 2**63 - 1])  # int64, as the apiserver allows


@st.composite
def requests(draw: st.DrawFn) -> Any:
    name = draw(names)
    kind = draw(
        st.sampled_from(
            ["proxy", "backend", "sts", "deployment", "MCPServer", "MCPRemoteProxy", "VirtualMCPServer"]
        )
    )
    if kind == "proxy":
        obj = proxy_service(name)
    elif kind == "backend":
        obj = backend_service(name, headless=False)
    elif kind == "sts":
        obj = backend_statefulset(
            name, transport=draw(st.sampled_from(["stdio", "sse"])), replicas=draw(counts)
        )
        obj["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = draw(graces)
        if draw(st.booleans()):  # the longest statefulset-dns reason: a selector no Service can express
            obj["spec"]["selector"]["matchExpressions"] = [{"key": "a", "operator": "Exists"}]
    elif kind == "deployment":
        obj = proxy_deployment(name)
        obj["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = draw(graces)
    else:
        obj = mcpserver_like(kind, name)
        obj["spec"]["replicas"] = draw(counts)
        if kind == "MCPServer":
            obj["spec"]["backendReplicas"] = draw(counts)
            obj["spec"]["transport"] = draw(st.sampled_from(["stdio", "sse"]))
        if draw(st.booleans()):
            obj["spec"]["sessionStorage"] = {"provider": "redis", "address": "r"}
        obj["spec"]["podTemplateSpec"] = {"spec": {"terminationGracePeriodSeconds": draw(graces)}}
        obj["spec"]["sessionAffinity"] = draw(st.sampled_from(["ClientIP", "None"]))  # affinity-with-redis
    obj["metadata"]["namespace"] = draw(names)
    if kind != "sts" or not draw(st.booleans()):
        return request_for(obj)
    # UPDATEs of a StatefulSet: every serviceName story (kept, changed, never had it).
    old = copy.deepcopy(obj)
    old["spec"]["serviceName"] = draw(st.sampled_from([f"mcp-{name}-headless", name]))
    obj["spec"]["serviceName"] = draw(st.sampled_from([f"mcp-{name}-headless", name, "other"]))
    return request_for(obj, Operation.UPDATE, old)


@settings(deadline=None)
@given(
    requests(),
    st.sampled_from(["{name}", "mcp-{name}-headless", "{name}-pods"]),
    st.sampled_from(["warn", "enforce"]),
    st.sampled_from([30, 3600]),
)
def test_every_warning_fits_whole(request: Any, pattern: str, mode: str, grace: int) -> None:
    config = validate(
        PolicyConfig,
        {
            "policies": {
                "statefulset-dns": {"serviceNamePattern": pattern},
                # enforce: termination-grace denies with its own text; 3600: the longest minimum
                "termination-grace": {"mode": mode, "minSeconds": grace},
            }
        },
    )
    decision = decide(request, config)
    for finding in (*decision.warnings, *([decision.denial] if decision.denial else [])):
        text = warning_text(finding)
        assert len(text) <= MAX_WARNING_RUNES and not text.endswith("…"), text
