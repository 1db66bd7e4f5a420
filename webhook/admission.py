"""POST /mutate and /validate as one raw ASGI handler: the hot path of every matching apply in the cluster.

No framework routing, no request models: read the body within a limit, parse it once with orjson, ask
the engine, answer. Measured against a bare ASGI callable in bench/webhook/.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from time import perf_counter
from typing import Any

import orjson

from mcp_admission.policies import ALLOW, Phase, Policy, PolicyConfig, Request, decide
from mcp_admission.webhook.decision_log import DecisionLog
from mcp_admission.webhook.metrics import WebhookMetrics
from mcp_admission.webhook.review import (
    BadReview,
    allowed_review,
    decision_review,
    parse_review,
    problem,
    rejected_review,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("mcp_admission.webhook")
decisions = DecisionLog(log)

PATHS = {phase.path: phase for phase in Phase}
INTERNAL_ERROR_WARNING = "mcp-admission: internal error"
_JSON = b"application/json"


class _TooLarge(Exception):
    pass


def _is_json(content_type: bytes) -> bool:
    """application/json, whatever its parameters (charset) or case."""
    return content_type.partition(b";")[0].strip().lower() == _JSON


# After a refused upload: do not read the rest of it on a kept-alive connection.
_CLOSE = ((b"connection", b"close"),)


async def _respond(send: Send, status: int, body: bytes, extra: Sequence[tuple[bytes, bytes]] = ()) -> None:
    headers = [(b"content-type", _JSON), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None if the client went away; _TooLarge as soon as it passes `limit`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        if not message.get("more_body", False):
            # Usually the whole body came in one message: nothing to join.
            return b"".join((*chunks, chunk)) if chunks else chunk
        chunks.append(chunk)


class AdmissionHandler:
    """Answers AdmissionReview v1 requests with the engine's decision for one phase per path."""

    def __init__(
        self,
        config: PolicyConfig,
        policies: Sequence[Policy[Any]],
        max_body_bytes: int,
        metrics: WebhookMetrics,
    ) -> None:
        self.metrics = metrics
        self.config = config
        # Each endpoint hands the engine only its phase's policies, rather than all for it to skip.
        self.policies = {phase: tuple(p for p in policies if p.phase is phase) for phase in Phase}
        self.max_body_bytes = max_body_bytes

    async def __call__(self, phase: Phase, scope: Scope, receive: Receive, send: Send) -> None:
        start = perf_counter()
        if scope["method"] != "POST":
            self.metrics.rejected.labels("method").inc()
            await _respond(send, 405, problem("use POST with an AdmissionReview"), ((b"allow", b"POST"),))
            return
        content_type = b""
        length = -1
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length" and value.isdigit():
                length = int(value)
        if not _is_json(content_type):
            self.metrics.rejected.labels("content_type").inc()
            message = f"content type must be application/json, not {content_type.decode('latin-1')!r}"
            await _respond(send, 415, problem(message), _CLOSE)
            return
        try:
            if length > self.max_body_bytes:
                raise _TooLarge
            body = await _read_body(receive, self.max_body_bytes)
        except _TooLarge:
            self.metrics.rejected.labels("too_large").inc()
            message = f"request body larger than {self.max_body_bytes} bytes"
            await _respond(send, 413, problem(message), _CLOSE)
            return
        if body is None:
            return  # the client went away: nobody to answer
        try:
            review = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            self.metrics.rejected.labels("not_json").inc()
            await _respond(send, 400, problem(f"body is not JSON: {exc}"))
            return
        status, answer = self._answer(phase, review, start)
        await _respond(send, status, answer)

    def _answer(self, phase: Phase, review: Any, start: float) -> tuple[int, bytes]:
        uid: str | None = None
        request: Request | None = None
        try:
            uid, request = parse_review(review)
            decision = decide(request, self.config, phase, policies=self.policies[phase])
            mutate = phase is Phase.MUTATE
            answer = decision_review(uid, decision, with_patch=mutate)
            seconds = perf_counter() - start
            self.metrics.decisions.record(phase, request.kind, request.operation, decision, seconds)
            for error in decision.errors:
                log.error(
                    "policy error (contained)",
                    extra={"fields": {"uid": uid, "policy": error.policy, "error": error.error}},
                )
            # A request the engine leaves alone (nearly every apply in a cluster) is logged at debug:
            # one info line each doubled the CPU per request under load (bench/webhook) and is noise.
            level = logging.DEBUG if decision == ALLOW else logging.INFO
            if decisions.enabled(level):
                decisions.write(
                    level,
                    {
                        "uid": uid,
                        "endpoint": phase,
                        "kind": request.kind,
                        "namespace": request.namespace,
                        "name": request.name,
                        "operation": request.operation,
                        "dryRun": request.dry_run,
                        "patches": len(decision.patch) if mutate else 0,
                        "warnings": [f.policy for f in decision.warnings],
                        "denial": decision.denial.policy if decision.denial else None,
                        "durationMs": round(seconds * 1000, 3),
                    },
                )
            return 200, answer
        except BadReview as exc:
            self.metrics.rejected.labels("not_admission_review").inc()
            log.warning(
                "rejected: not an AdmissionReview v1",
                extra={"fields": {"uid": exc.uid, "error": exc.message}},
            )
            if exc.uid is None:
                return 400, problem(exc.message)
            return 400, rejected_review(exc.uid, 400, exc.message)
        except Exception:
            # Never answer 500: with failurePolicy Fail a webhook bug would block every apply in the
            # cluster. The engine already contains policy errors; anything else here is our bug: allow
            # the request, say so in a warning, log it with the uid and count it.
            self.metrics.internal_errors.inc()
            if request is not None:
                self.metrics.decisions.count_request(phase, request.kind, request.operation, "error")
            log.exception("internal error; request allowed", extra={"fields": {"uid": uid}})
            if uid is None:
                return 400, problem("cannot read this AdmissionReview (internal error, logged)")
            return 200, allowed_review(uid, INTERNAL_ERROR_WARNING)
