"""Bad input gets a clear 4xx; a failing policy or a webhook bug never blocks the request (real server)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from mcp_admission.policies import ALL_POLICIES, Outcome, PolicySettings, Request
from mcp_admission.policies.engine.workloads import Workload
from tests.support.policies import a_policy

from .support import Json, Served, check_answer, metric, patched, review, serving
from .test_admission import mcp_service

JSON_HEADERS = {"content-type": "application/json"}


def rejected(before: str, after: str, reason: str) -> float:
    name = "mcp_admission_rejected_requests_total"
    return metric(after, name, reason=reason) - metric(before, name, reason=reason)


def test_body_that_is_not_json_is_400(served: Served, client: httpx.Client) -> None:
    before = httpx.get(served.metrics_url).text
    answer = client.post("/mutate", content=b'{"apiVersion": ', headers=JSON_HEADERS)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("body is not JSON")
    assert rejected(before, httpx.get(served.metrics_url).text, "not_json") == 1


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ([1, 2], "body must be a JSON object"),
        ({"apiVersion": "v1", "kind": "Pod"}, "expected apiVersion 'admission.k8s.io/v1'"),
        ({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}, "missing request"),
        (
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}},
            "missing request.uid",
        ),
        (
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": ""}},
            "missing request.uid",
        ),
    ],
)
def test_not_an_admission_review_is_400_saying_what_is_missing(
    client: httpx.Client, body: object, says: str
) -> None:
    answer = client.post("/validate", json=body)
    assert answer.status_code == 400
    assert answer.json() == {"error": answer.json()["error"]} and says in answer.json()["error"]


def test_a_review_with_a_readable_uid_gets_an_admission_review_400(client: httpx.Client) -> None:
    sent = review(mcp_service())
    sent["apiVersion"] = "admission.k8s.io/v1beta1"  # v1 only
    answer = client.post("/mutate", json=sent)
    assert answer.status_code == 400
    response = answer.json()["response"]
    assert response["uid"] == sent["request"]["uid"]
    assert response["allowed"] is False
    assert response["status"]["code"] == 400 and "admission.k8s.io/v1" in response["status"]["message"]

    for field, value, says in (
        ("operation", "PATCH", "request.operation must be one of"),
        ("operation", ["CREATE"], "request.operation must be one of"),  # not even hashable
        ("kind", "Service", "request.kind"),
        ("namespace", 7, "request.namespace must be a string"),
        ("dryRun", "yes", "request.dryRun must be a boolean"),
    ):
        bad = review(mcp_service())
        bad["request"][field] = value
        answer = client.post("/mutate", json=bad)
        assert answer.status_code == 400, field
        assert says in answer.json()["response"]["status"]["message"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(client: httpx.Client, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    answer = client.post("/mutate", content=orjson.dumps(review(mcp_service())), headers=headers)
    assert answer.status_code == 415
    assert "application/json" in answer.json()["error"]
    # A charset parameter is still JSON.
    ok = client.post(
        "/mutate",
        content=orjson.dumps(review(mcp_service())),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 200


def test_get_on_an_admission_path_is_405(client: httpx.Client) -> None:
    answer = client.get("/mutate")
    assert answer.status_code == 405 and answer.headers["allow"] == "POST"


def test_too_large_is_413_while_reading(tls: Path) -> None:
    limit = 4096
    with serving(tls, max_body_bytes=limit) as served, served.client() as client:
        big = review(mcp_service())
        big["request"]["object"]["metadata"]["annotations"] = {"note": "x" * limit}
        answer = client.post("/mutate", json=big)
        assert answer.status_code == 413
        assert str(limit) in answer.json()["error"]

        # Chunked, with no Content-Length: refused as soon as the limit is passed, not after reading it all.
        def chunks() -> Iterator[bytes]:
            yield orjson.dumps(review(mcp_service()))[:-1]
            for _ in range(100):
                yield b" " * 1024

        answer = client.post("/mutate", content=chunks(), headers=JSON_HEADERS)
        assert answer.status_code == 413

        # Just under the limit still works.
        small = review(mcp_service())
        assert len(orjson.dumps(small)) < limit
        assert client.post("/mutate", json=small).status_code == 200


def test_default_limit_takes_the_apiservers_3_mib(client: httpx.Client) -> None:
    sent = review(mcp_service())
    sent["request"]["object"]["metadata"]["annotations"] = {"big": "y" * (3 * 1024 * 1024 - 4096)}
    answer = client.post("/mutate", json=sent)
    assert answer.status_code == 200
    check_answer(answer.json(), sent, validating=False)


def test_content_length_above_the_limit_is_refused_before_the_body(served: Served) -> None:
    context = ssl.create_default_context(cafile=str(served.ca_file))
    port = int(served.url.rsplit(":", 1)[1])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(
            b"POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 999999999\r\n\r\n"
        )
        head = tls.recv(4096)
    assert head.startswith(b"HTTP/1.1 413 ")


def _raises(request: Request, workload: Workload, settings: PolicySettings) -> Outcome:
    raise RuntimeError("boom: this policy is broken")


BROKEN = a_policy("test-broken", _raises, kinds={"Service"}, operations={"CREATE", "UPDATE"})


def test_a_policy_that_raises_is_contained(tls: Path, caplog: pytest.LogCaptureFixture) -> None:
    with serving(tls, policies=(*ALL_POLICIES, BROKEN)) as served, served.client() as client:
        before = httpx.get(served.metrics_url).text
        sent = review(mcp_service())
        answer = client.post("/mutate", json=sent)
        after = httpx.get(served.metrics_url).text
    assert answer.status_code == 200
    body: Json = answer.json()
    response = body["response"]
    assert response["allowed"] is True
    assert any(w.startswith("test-broken: ") for w in response["warnings"]), response
    # The other policies still apply.
    assert patched(sent, check_answer(body, sent, validating=False))["spec"]["sessionAffinity"] == "ClientIP"
    name = "mcp_admission_policy_errors_total"
    assert metric(after, name, policy="test-broken") == metric(before, name, policy="test-broken") + 1
    logged = [r for r in caplog.records if r.getMessage() == "policy error (contained)"]
    assert logged and logged[-1].fields["uid"] == sent["request"]["uid"]  # type: ignore[attr-defined]
    assert "boom" in logged[-1].fields["error"]  # type: ignore[attr-defined]


def _unserialisable_patch(request: Request, workload: Workload, settings: PolicySettings) -> Outcome:
    # A buggy policy whose patch is not JSON: it fails in the webhook (serialising), not in the engine.
    return Outcome(patch=({"op": "add", "path": "/x", "value": {1, 2}},))


BUGGY = a_policy("test-buggy", _unserialisable_patch, kinds={"Service"})


def test_a_webhook_bug_allows_the_request_with_a_warning(tls: Path, caplog: pytest.LogCaptureFixture) -> None:
    with serving(tls, policies=(BUGGY,)) as served, served.client() as client:
        before = httpx.get(served.metrics_url).text
        sent = review(mcp_service())
        answer = client.post("/mutate", json=sent)
        after = httpx.get(served.metrics_url).text
        still = client.post("/mutate", json=review(mcp_service(), "DELETE"))  # the server goes on
    assert answer.status_code == 200
    assert answer.json()["response"] == {
        "uid": sent["request"]["uid"],
        "allowed": True,
        "warnings": ["mcp-admission: internal error"],
    }
    name = "mcp_admission_internal_errors_total"
    assert metric(after, name) == metric(before, name) + 1
    labels = {"endpoint": "mutate", "kind": "Service", "operation": "CREATE", "result": "error"}
    name = "mcp_admission_requests_total"
    assert metric(after, name, **labels) == metric(before, name, **labels) + 1
    logged = [r for r in caplog.records if r.getMessage() == "internal error; request allowed"]
    assert logged and logged[-1].fields["uid"] == sent["request"]["uid"]  # type: ignore[attr-defined]
    assert logged[-1].exc_info is not None
    assert still.status_code == 200
