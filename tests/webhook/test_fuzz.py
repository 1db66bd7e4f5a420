"""Fuzzing the app in process (ASGI): generated bodies never get a 5xx, and every 200 is a valid answer.

Hypothesis: 9,200 bodies (3,200 MCP-shaped reviews under two configurations, 2,500 of any JSON, 3,500 raw
or cut bodies); schemathesis: 1,400 more from the app's own OpenAPI document (/mutate, /validate).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from mcp_admission.cli.config import Config
from mcp_admission.policies import ALL_POLICIES, POLICY_IDS
from mcp_admission.records import validate
from mcp_admission.webhook.admission import Message
from mcp_admission.webhook.app import WebhookApp, create_app

from .support import Json, check_answer

FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
ENFORCING = validate(Config, {"policies": {p: {"mode": "enforce"} for p in POLICY_IDS}})
APPS = {
    "default": create_app(Config(), policies=ALL_POLICIES),
    "enforce": create_app(ENFORCING, policies=ALL_POLICIES),
}
VALID = orjson.dumps(
    {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "6f0c",
            "kind": {"group": "", "version": "v1", "kind": "Service"},
            "operation": "CREATE",
            "object": {"metadata": {"name": "mcp-x", "labels": {"toolhive": "true"}}, "spec": {}},
        },
    }
)


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    event_loop = asyncio.new_event_loop()
    yield event_loop
    event_loop.close()


def call(
    loop: asyncio.AbstractEventLoop,
    app: WebhookApp,
    path: str,
    body: bytes,
    content_type: bytes = b"application/json",
) -> tuple[int, bytes]:
    """One HTTP request through the ASGI interface, as uvicorn makes it (body in one or more chunks)."""
    half = len(body) // 2
    messages: list[Message] = [
        {"type": "http.request", "body": body[:half], "more_body": True},
        {"type": "http.request", "body": body[half:], "more_body": False},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
    loop.run_until_complete(app(scope, receive, send))
    assert sent[0]["type"] == "http.response.start"
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=8,
)

LABEL_KEYS = [
    "toolhive",
    "toolhive-name",
    "toolhive-transport",
    "toolhive-basename",
    "app",
    "app.kubernetes.io/name",
    "mcp-admission.io/workload",
    "mcp-admission.io/transport",
]
LABEL_VALUES = ["true", "false", "stdio", "sse", "streamable-http", "mcpserver", "yardstick", ""]
SPEC_KEYS = [
    "replicas",
    "backendReplicas",
    "transport",
    "sessionAffinity",
    "sessionAffinityConfig",
    "serviceName",
    "clusterIP",
    "clusterIPs",
    "type",
    "sessionStorage",
    "selector",
]
SPEC_VALUES = st.sampled_from(
    [
        0,
        1,
        2,
        5,
        -1,
        "None",
        "ClientIP",
        "stdio",
        "sse",
        "ExternalName",
        "NodePort",
        ["None"],
        {"provider": "redis"},
    ]
)
KINDS = st.sampled_from(
    [
        ("", "v1", "Service"),
        ("apps", "v1", "StatefulSet"),
        ("apps", "v1", "Deployment"),
        ("toolhive.stacklok.dev", "v1beta1", "MCPServer"),
        ("toolhive.stacklok.dev", "v1alpha1", "MCPRemoteProxy"),
        ("toolhive.stacklok.dev", "v1beta1", "VirtualMCPServer"),
        ("toolhive.stacklok.dev", "v1beta1", "EmbeddingServer"),
        ("", "v1", "ConfigMap"),
    ]
)


scalars = st.none() | st.booleans() | st.integers(-3, 2**40) | st.text(max_size=6)
# Strategies are built once, here: building them inside a draw costs more than the request under test.
NAMES = st.sampled_from(["yardstick", "mcp-yardstick", "mcp-yardstick-headless", "x" * 63])
LABELS = st.dictionaries(st.sampled_from(LABEL_KEYS), st.sampled_from(LABEL_VALUES) | scalars)
SKIP = st.sampled_from([*POLICY_IDS, "*", "", ","]) | scalars
OWNERS = st.lists(
    st.fixed_dictionaries(
        {
            "apiVersion": st.sampled_from(["apps/v1", "toolhive.stacklok.dev/v1beta1"]),
            "kind": st.sampled_from(["StatefulSet", "MCPServer"]),
            "name": st.sampled_from(["yardstick", "other"]),
        }
    )
    | scalars,
    max_size=2,
)
SPECS = st.dictionaries(st.sampled_from(SPEC_KEYS), SPEC_VALUES | scalars, max_size=6)
SHAPES = st.integers(0, 9)
UIDS = st.uuids().map(str)
OPERATIONS = st.sampled_from(["CREATE", "UPDATE", "DELETE", "CONNECT"])
NAMESPACES = st.sampled_from(["toolhive-system", "kube-system", ""])
SUB_RESOURCES = st.sampled_from(["scale", "status"])


@st.composite
def mcp_objects(draw: st.DrawFn) -> Any:
    """Objects close enough to MCP workloads to reach the policies, with odd values where they may be."""
    metadata: Json = {"name": draw(NAMES), "labels": draw(LABELS)}
    if draw(st.booleans()):
        metadata["annotations"] = {"mcp-admission.io/skip-policies": draw(SKIP)}
    if draw(st.booleans()):
        metadata["ownerReferences"] = draw(OWNERS)
    shape = draw(SHAPES)
    meta: Any = metadata if shape < 8 else None if shape == 8 else "metadata"
    obj: Any = {"metadata": meta, "spec": draw(SPECS)}
    shape = draw(SHAPES)
    return obj if shape < 8 else None if shape == 8 else draw(json_values)


OBJECTS = mcp_objects()
OLD_OBJECTS = st.none() | OBJECTS


@st.composite
def reviews(draw: st.DrawFn) -> Json:
    group, version, kind = draw(KINDS)
    request: Json = {
        "uid": draw(UIDS),
        "kind": {"group": group, "version": version, "kind": kind},
        "operation": draw(OPERATIONS),
        "namespace": draw(NAMESPACES),
        "name": "yardstick",
        "object": draw(OBJECTS),
        "oldObject": draw(OLD_OBJECTS),
        "dryRun": draw(st.booleans()),
    }
    if draw(SHAPES) == 0:
        request["subResource"] = draw(SUB_RESOURCES)
    if draw(SHAPES) == 0:  # one field broken or removed
        field = sorted(request)[draw(st.integers(0, len(request) - 1))]
        if draw(st.booleans()):
            del request[field]
        else:
            request[field] = draw(scalars)
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def check(status: int, answer: bytes, sent: Any, path: str) -> None:
    assert status < 500, answer
    body = orjson.loads(answer)
    if status == 200:
        check_answer(body, sent, validating=path == "/validate")
        assert "mcp-admission: internal error" not in body["response"].get("warnings", []), "a webhook bug"
    else:
        assert status == 400, (status, answer)


@pytest.mark.parametrize("config", sorted(APPS))
@settings(FUZZ)
@given(sent=reviews(), path=st.sampled_from(["/mutate", "/validate"]))
def test_mcp_shaped_reviews(loop: asyncio.AbstractEventLoop, config: str, sent: Json, path: str) -> None:
    status, answer = call(loop, APPS[config], path, orjson.dumps(sent))
    check(status, answer, sent, path)


@settings(FUZZ)
@given(body=json_values, path=st.sampled_from(["/mutate", "/validate"]))
def test_any_json(loop: asyncio.AbstractEventLoop, body: Any, path: str) -> None:
    status, answer = call(loop, APPS["default"], path, orjson.dumps(body))
    check(status, answer, body, path)


@settings(FUZZ)
@given(
    body=st.binary(max_size=300) | st.builds(lambda n: VALID[:n], st.integers(0, len(VALID))),
    content_type=st.sampled_from(
        [b"application/json", b"application/json; charset=utf-8", b"text/plain", b""]
    ),
)
def test_any_bytes(loop: asyncio.AbstractEventLoop, body: bytes, content_type: bytes) -> None:
    status, answer = call(loop, APPS["default"], "/mutate", body, content_type)
    assert status in (200, 400, 415), (status, answer)
    orjson.loads(answer)  # always a JSON answer


# Schemathesis reads the app's own OpenAPI document (from the running ASGI app, as a client would).
schema = schemathesis.openapi.from_asgi("/openapi.json", APPS["default"])


@schema.parametrize()
@settings(FUZZ, suppress_health_check=list(HealthCheck))
def test_openapi_schemathesis(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
    case.call_and_validate(checks=[not_a_server_error, status_code_conformance, response_schema_conformance])
