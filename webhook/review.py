"""AdmissionReview v1 on the wire: the request fields the engine reads, the answer the apiserver wants.

Plain dict reading, no models: this runs on every admission request (design §5 for the rules).
"""

from __future__ import annotations

from binascii import b2a_base64

import orjson

from mcp_admission.policies import JSON, Decision, Operation, Request, warning_text

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"
_OPERATIONS = {op.value: op for op in Operation}


class BadReview(Exception):
    """JSON that is not a usable AdmissionReview v1. `uid` is set when the request's uid could be read."""

    def __init__(self, message: str, uid: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.uid = uid


def _string(value: JSON, key: str, uid: str) -> str:
    if value is None:  # the apiserver omits empty strings (omitempty)
        return ""
    if not isinstance(value, str):
        raise BadReview(f"request.{key} must be a string, not {type(value).__name__}", uid)
    return value


def _envelope_problem(review: dict[str, JSON], request: JSON) -> BadReview:
    """Why a JSON object is not an AdmissionReview v1 request (off the hot path)."""
    uid = request.get("uid") if isinstance(request, dict) else None
    uid = uid if isinstance(uid, str) and uid else None
    api_version, kind = review.get("apiVersion"), review.get("kind")
    if api_version != API_VERSION or kind != KIND:
        return BadReview(
            f"expected apiVersion {API_VERSION!r} and kind {KIND!r}, got {api_version!r} and {kind!r}", uid
        )
    if not isinstance(request, dict):
        return BadReview("missing request: an AdmissionReview sent to a webhook carries one")
    return BadReview("missing request.uid (a non-empty string)")


def parse_review(review: JSON) -> tuple[str, Request]:
    """The request's uid and what the engine needs of it; BadReview says what is missing or wrong."""
    if not isinstance(review, dict):
        raise BadReview(f"body must be a JSON object (an AdmissionReview), not {type(review).__name__}")
    request = review.get("request")
    uid = request.get("uid") if isinstance(request, dict) else None
    if (
        not isinstance(uid, str)
        or not uid
        or review.get("apiVersion") != API_VERSION
        or review.get("kind") != KIND
    ):
        raise _envelope_problem(review, request)
    assert isinstance(request, dict)  # for mypy: a uid was read from it
    gvk = request.get("kind")
    if not isinstance(gvk, dict):
        raise BadReview("missing request.kind (an object with group, version and kind)", uid)
    group, version, kind_name = gvk.get("group", ""), gvk.get("version"), gvk.get("kind")
    if not (isinstance(group, str) and isinstance(version, str) and isinstance(kind_name, str)):
        raise BadReview("request.kind needs string group, version and kind", uid)
    op = request.get("operation")
    operation = _OPERATIONS.get(op) if isinstance(op, str) else None
    if operation is None:
        raise BadReview(f"request.operation must be one of {', '.join(_OPERATIONS)}", uid)
    dry_run = request.get("dryRun")
    if dry_run is not None and not isinstance(dry_run, bool):
        raise BadReview("request.dryRun must be a boolean", uid)
    return uid, Request(
        group=group,
        version=version,
        kind=kind_name,
        operation=operation,
        # Absent or null when cluster-scoped, or without a subresource: then "".
        namespace=_string(request.get("namespace"), "namespace", uid),
        name=_string(request.get("name"), "name", uid),
        object=request.get("object"),
        old_object=request.get("oldObject"),
        dry_run=bool(dry_run),
        sub_resource=_string(request.get("subResource"), "subResource", uid),
    )


def _review(response: dict[str, JSON]) -> bytes:
    return orjson.dumps({"apiVersion": API_VERSION, "kind": KIND, "response": response})


def decision_review(uid: str, decision: Decision, *, with_patch: bool) -> bytes:
    """The answer to one request. Only the mutating webhook may return a patch, and only a non-empty one."""
    response: dict[str, JSON] = {"uid": uid, "allowed": decision.denial is None}
    if with_patch and decision.patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = b2a_base64(orjson.dumps(decision.patch), newline=False).decode()  # base64
    if decision.warnings:
        response["warnings"] = [warning_text(f) for f in decision.warnings]
    if decision.denial is not None:
        # Gatekeeper and Kyverno answer policy denials with 403 and "<policy>: <message>".
        response["status"] = {"code": 403, "message": warning_text(decision.denial)}
    return _review(response)


def allowed_review(uid: str, warning: str) -> bytes:
    return _review({"uid": uid, "allowed": True, "warnings": [warning]})


def rejected_review(uid: str, code: int, message: str) -> bytes:
    """A 4xx answer that still reads as an AdmissionReview, so the apiserver's log shows our message."""
    return _review({"uid": uid, "allowed": False, "status": {"code": code, "message": message}})


def problem(message: str) -> bytes:
    """A 4xx answer when no request uid could be read."""
    return orjson.dumps({"error": message})
