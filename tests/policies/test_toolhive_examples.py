"""The real ToolHive manifests, read in place: each one's decision, and why."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonpatch
import pytest
import yaml

from mcp_admission.policies import Finding, PolicyConfig, admit

from .toolhive_objects import request_for

CONFIG = PolicyConfig()


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def decide_all(path: Path) -> dict[str, tuple[list[dict[str, Any]], list[Finding]]]:
    """kind/name → (patch, warnings) for every document of a real example file."""
    result = {}
    for doc in documents(path):
        decision, _ = admit(request_for(doc), CONFIG)
        assert decision.denial is None and not decision.errors
        result[f"{doc['kind']}/{doc['metadata']['name']}"] = (list(decision.patch), list(decision.warnings))
    return result


# Every example as shipped: none of them asks for more than one replica, and the chainsaw files are
# partial assertion objects with no ToolHive labels or owners, so nothing is patched and nothing said.
EXPECTED_AS_SHIPPED = {
    "chainsaw-st-sse__assert-mcpserver-headless-svc.yaml": ["Service/mcp-st-sse-headless"],
    "chainsaw-st-sse__assert-mcpserver-svc.yaml": ["Service/mcp-st-sse"],
    "ex-external-auth__mcpremoteproxy_with_bearer_token.yaml": [
        "Secret/api-bearer-token",
        "MCPExternalAuthConfig/api-bearer-auth",
        "MCPOIDCConfig/api-proxy-oidc",
        "MCPRemoteProxy/api-proxy",
    ],
    "ex-mcp-servers__mcpserver_with_resource_overrides.yaml": ["MCPServer/github-with-overrides"],
    "ex-mcp-servers__mcpserver_yardstick_sse.yaml": ["MCPServer/yardstick"],
    "ex-mcp-servers__mcpserver_yardstick_stdio.yaml": ["MCPServer/yardstick"],
    "ex-virtual-mcps__vmcp_simple_discovered.yaml": [
        "MCPGroup/my-services",
        "MCPServer/yardstick-simple",
        "VirtualMCPServer/simple-vmcp",
    ],
}


def test_every_example_is_covered(toolhive: Path) -> None:
    assert sorted(p.name for p in (toolhive / "examples").glob("*.yaml")) == sorted(EXPECTED_AS_SHIPPED)


@pytest.mark.parametrize("name", sorted(EXPECTED_AS_SHIPPED))
def test_examples_as_shipped_get_nothing(toolhive: Path, name: str) -> None:
    decided = decide_all(toolhive / "examples" / name)
    assert list(decided) == EXPECTED_AS_SHIPPED[name]
    assert all(patch == [] and warnings == [] for patch, warnings in decided.values()), decided


def with_spec(doc: dict[str, Any], **fields: Any) -> dict[str, Any]:
    changed = copy.deepcopy(doc)
    changed["spec"].update(fields)
    return changed


def only(path: Path, kind: str) -> dict[str, Any]:
    (doc,) = [d for d in documents(path) if d["kind"] == kind]
    return doc


def test_stdio_example_scaled_up_is_capped(toolhive: Path) -> None:
    """yardstick stdio asks for 3 proxies: a stdio server is one process, so both counts become 1."""
    server = with_spec(
        only(toolhive / "examples/ex-mcp-servers__mcpserver_yardstick_stdio.yaml", "MCPServer"),
        replicas=3,
        backendReplicas=2,
    )
    decision, stored = admit(request_for(server), CONFIG)
    assert list(decision.patch) == [
        {"op": "replace", "path": "/spec/replicas", "value": 1},
        {"op": "replace", "path": "/spec/backendReplicas", "value": 1},
    ]
    assert [w.policy for w in decision.warnings] == ["stdio-replicas", "stdio-replicas"]
    # Validation sees the capped object, so no session-storage warning follows.
    assert stored["spec"]["replicas"] == 1 and stored["spec"]["backendReplicas"] == 1


def test_resource_overrides_example_defaults_to_stdio_when_transport_absent(toolhive: Path) -> None:
    server = only(toolhive / "examples/ex-mcp-servers__mcpserver_with_resource_overrides.yaml", "MCPServer")
    server = with_spec(server, replicas=2)
    del server["spec"]["transport"]  # the CRD defaults it to stdio
    decision, _ = admit(request_for(server), CONFIG)
    assert list(decision.patch) == [{"op": "replace", "path": "/spec/replicas", "value": 1}]


def test_sse_example_scaled_up_without_redis_warns(toolhive: Path) -> None:
    server = with_spec(
        only(toolhive / "examples/ex-mcp-servers__mcpserver_yardstick_sse.yaml", "MCPServer"), replicas=3
    )
    decision, _ = admit(request_for(server), CONFIG)
    assert decision.patch == ()
    assert [w.policy for w in decision.warnings] == ["session-storage"]
    assert "sessions are not shared" in decision.warnings[0].message


def test_sse_example_with_redis_is_advised_to_drop_affinity(toolhive: Path) -> None:
    redis = {"provider": "redis", "address": "redis:6379"}
    server = with_spec(
        only(toolhive / "examples/ex-mcp-servers__mcpserver_yardstick_sse.yaml", "MCPServer"),
        replicas=3,
        sessionStorage=redis,
    )
    decision, _ = admit(request_for(server), CONFIG)
    assert [w.policy for w in decision.warnings] == ["affinity-with-redis"]
    # The advice is moot once the user chose None.
    decision, _ = admit(request_for(with_spec(server, sessionAffinity="None")), CONFIG)
    assert decision.warnings == ()


@pytest.mark.parametrize(
    ("file", "kind"),
    [
        ("ex-external-auth__mcpremoteproxy_with_bearer_token.yaml", "MCPRemoteProxy"),
        ("ex-virtual-mcps__vmcp_simple_discovered.yaml", "VirtualMCPServer"),
    ],
)
def test_proxies_scaled_up_without_redis_warn(toolhive: Path, file: str, kind: str) -> None:
    decision, _ = admit(request_for(with_spec(only(toolhive / "examples" / file, kind), replicas=2)), CONFIG)
    assert decision.patch == ()
    assert [(w.policy, w.message) for w in decision.warnings] == [
        ("session-storage", "spec.replicas 2 without sessionStorage redis: sessions are not shared")
    ]


def test_chainsaw_sticky_service_when_owned_by_its_statefulset_is_already_right(toolhive: Path) -> None:
    """The assertion file is what ToolHive's sticky Service must look like: recognised, nothing to do."""
    svc = documents(toolhive / "examples/chainsaw-st-sse__assert-mcpserver-svc.yaml")[0]
    svc["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "st-sse"}]
    svc["spec"]["ports"] = [{"port": 8080}]
    decision, _ = admit(request_for(svc), CONFIG)
    assert decision.patch == () and decision.warnings == ()
    # Without the affinity it would get exactly that spec back.
    del svc["spec"]["sessionAffinity"], svc["spec"]["sessionAffinityConfig"]
    request = request_for(svc)
    decision, stored = admit(request, CONFIG)
    assert decision.patch
    assert stored["spec"]["sessionAffinity"] == "ClientIP"
    assert stored["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 1800}}
    assert jsonpatch.apply_patch(request.object, list(decision.patch)) == stored
