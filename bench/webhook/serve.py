"""One server of the benchmark: the real webhook, or the bare baseline on the very same server stack.

python bench/webhook/serve.py webhook|baseline PORT CERT KEY
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from mcp_admission.config import load_config
from webhook import logs
from webhook.server import WebhookServer, run_until_stopped
from webhook.settings import WebhookSettings

Message = MutableMapping[str, Any]


async def baseline(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """The honest bare endpoint (design §7): read the body, parse it, answer allowed with the uid."""
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    uid = orjson.loads(body)["request"]["uid"]
    answer = orjson.dumps(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {"uid": uid, "allowed": True},
        }
    )
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


def main() -> None:
    which, port, cert, key = sys.argv[1:5]
    logs.configure("info")
    settings = WebhookSettings(host="127.0.0.1", port=int(port), metrics_port=0, cert_file=cert, key_file=key)
    server = WebhookServer(load_config(None), settings)
    if which == "baseline":
        # Same uvicorn config, TLS context, loop and worker count: only the application differs.
        server.uvicorn.config.app = baseline
    run_until_stopped(server)


if __name__ == "__main__":
    main()
