"""One server of the benchmark: the real webhook, the bare baseline, the control or a calibration, on the
same server stack.

python bench/webhook/serve.py webhook|baseline|control|baseline+MICROSECONDS PORT CERT KEY
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from time import perf_counter
from typing import Any

import orjson

from mcp_admission import logs
from mcp_admission.cli.config import load_config
from mcp_admission.policies import ALL_POLICIES, Phase, decide
from mcp_admission.webhook.admission import PATHS
from mcp_admission.webhook.review import decision_review, parse_review
from mcp_admission.webhook.server import WebhookServer, run_until_stopped
from mcp_admission.webhook.settings import WebhookSettings

Message = MutableMapping[str, Any]
App = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]


async def _body(receive: Callable[[], Awaitable[Message]]) -> bytes:
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


async def _answer(send: Callable[[Message], Awaitable[None]], answer: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(answer)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": answer})


async def baseline(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """The honest bare endpoint (design §7): read the body, parse it, answer allowed with the uid."""
    uid = orjson.loads(await _body(receive))["request"]["uid"]
    answer = orjson.dumps(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {"uid": uid, "allowed": True},
        }
    )
    await _answer(send, answer)


# The control's answers: the webhook's own bytes for each endpoint, with "%s" where the uid goes.
_decided: dict[str, bytes] = {}


async def control(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """The baseline answering with the webhook's bytes (patch, warnings) without deciding each time.

    The engine decides the first request of each endpoint; later ones reuse that answer with their own
    uid. Against the baseline it prices the answer's size; against the webhook, the decision work.
    """
    review = orjson.loads(await _body(receive))
    uid: str = review["request"]["uid"]
    template = _decided.get(scope["path"])
    if template is None:
        phase = PATHS[scope["path"]]
        _, request = parse_review(review)
        decision = decide(request, load_config(None), phase)
        answer = decision_review(uid, decision, with_patch=phase is Phase.MUTATE)
        template = _decided[scope["path"]] = answer.replace(uid.encode(), b"%s")
    await _answer(send, template % uid.encode())


def burning(microseconds: int) -> App:
    """The baseline plus `microseconds` of pure CPU per request (a spin: no memory, no system calls).

    It prices work in the unit the targets use: what a webhook that does that much more per request
    than the baseline can reach on this machine and stack (run.py --calibrate).
    """
    seconds = microseconds / 1e6

    async def app(
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        end = perf_counter() + seconds
        while perf_counter() < end:
            pass
        await baseline(scope, receive, send)

    return app


def main() -> None:
    which, port, cert, key = sys.argv[1:5]
    logs.configure("info")
    settings = WebhookSettings(host="127.0.0.1", port=int(port), metrics_port=0, cert_file=cert, key_file=key)
    server = WebhookServer(load_config(None), settings, policies=ALL_POLICIES)
    if which != "webhook":
        # Same uvicorn config, TLS context, loop and worker count: only the application differs.
        name, _, burn = which.partition("+")
        app = burning(int(burn)) if burn else {"baseline": baseline, "control": control}[name]
        server.uvicorn.config.app = app
    run_until_stopped(server)


if __name__ == "__main__":
    main()
