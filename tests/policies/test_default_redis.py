"""toolhive.defaultSessionStorage: the ToolHive operator's default Redis, counted as the operator counts it.

ToolHive e25de16 wires TOOLHIVE_DEFAULT_REDIS_ADDR in for an MCPServer or VirtualMCPServer whose
spec.sessionStorage.provider is not redis (populateScalingConfig, convertSessionStorage), and for an
MCPRemoteProxy only when spec.sessionStorage is absent (populateScalingConfigForRemoteProxy). Real
resources from ToolHive's examples, scaled to two replicas.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcp_admission.policies import PolicyConfig, admit
from mcp_admission.records import validate

from .toolhive_objects import ADVICE, EXAMPLES, LOST, NOT_SHARED, example, request_for

STORAGE: dict[str, dict[str, Any] | None] = {
    "absent": None,
    "memory": {"provider": "memory"},
    "redis": {"provider": "redis", "address": "redis.sessions.svc:6379"},
}


def configured(default: str) -> PolicyConfig:
    return validate(PolicyConfig, {"toolhive": {"defaultSessionStorage": default}})


def scaled(toolhive: Path, kind: str, storage: str, **spec: Any) -> dict[str, Any]:
    """The kind's example at two replicas, with spec.sessionStorage as STORAGE[storage] says."""
    doc = example(toolhive, kind, replicas=2, **spec)
    if STORAGE[storage] is not None:
        doc["spec"]["sessionStorage"] = STORAGE[storage]
    return doc


def warnings(doc: dict[str, Any], config: PolicyConfig) -> list[str]:
    decision, _ = admit(request_for(doc), config)
    assert decision.patch == () and decision.denial is None and decision.errors == ()
    return [f"{w.policy}: {w.message}" for w in decision.warnings]


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
@pytest.mark.parametrize("storage", sorted(STORAGE))
def test_without_a_default_redis_the_warnings_are_todays(toolhive: Path, kind: str, storage: str) -> None:
    doc = scaled(toolhive, kind, storage)
    said = warnings(doc, configured("memory"))
    assert said == warnings(doc, PolicyConfig())  # the setting's default is the behaviour before it
    assert said == ([ADVICE] if storage == "redis" else [NOT_SHARED])


# kind, spec.sessionStorage → where the operator puts the sessions when it has a default Redis.
IN_REDIS = {
    ("MCPServer", "absent"): True,
    ("MCPServer", "memory"): True,  # populateScalingConfig: any provider but redis falls back
    ("MCPServer", "redis"): True,
    ("MCPRemoteProxy", "absent"): True,
    ("MCPRemoteProxy", "memory"): False,  # an explicit sessionStorage is kept, whatever its provider
    ("MCPRemoteProxy", "redis"): True,
    ("VirtualMCPServer", "absent"): True,
    ("VirtualMCPServer", "memory"): True,  # convertSessionStorage: as MCPServer
    ("VirtualMCPServer", "redis"): True,
}


@pytest.mark.parametrize(("kind", "storage"), sorted(IN_REDIS))
def test_with_a_default_redis_sessions_are_where_the_operator_puts_them(
    toolhive: Path, kind: str, storage: str
) -> None:
    config = configured("redis")
    shared = IN_REDIS[kind, storage]
    # The CRDs default sessionAffinity to ClientIP: with Redis, the advice to drop it; else the warning.
    assert warnings(scaled(toolhive, kind, storage), config) == ([ADVICE] if shared else [NOT_SHARED])
    # sessionAffinity None is right with Redis, and loses sessions without it.
    none = scaled(toolhive, kind, storage, sessionAffinity="None")
    assert warnings(none, config) == ([] if shared else [NOT_SHARED, LOST])
    assert warnings(none, PolicyConfig()) == ([] if storage == "redis" else [NOT_SHARED, LOST])


def test_backend_replicas_share_the_default_redis_too(toolhive: Path) -> None:
    server = scaled(toolhive, "MCPServer", "absent", sessionAffinity="None", backendReplicas=2)
    assert warnings(server, configured("redis")) == []
    assert warnings(server, PolicyConfig()) == [
        NOT_SHARED,
        "session-storage: spec.backendReplicas 2 without sessionStorage redis: sessions are not shared",
        LOST,
    ]
