"""CPU instructions per admission request, counted by callgrind: repeatable on a noisy shared machine.

    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        .venv/bin/python bench/webhook/instructions.py PAYLOAD N

Drives the real ASGI app with N requests of one payload of payloads.py (in process, as in_process.py;
logging not configured, so no decision lines: the engine and the handler only). callgrind prints the
total ("Collected"); one request costs (total at N - total at 0) / N. Compare two trees at the same N.
"""

from __future__ import annotations

import asyncio
import sys

from payloads import PAYLOADS
from serve import Message

from mcp_admission.cli.config import load_config
from mcp_admission.webhook.app import create_app


async def _drive(payload: str, requests: int) -> None:
    app = create_app(load_config(None))
    build, path = PAYLOADS[payload]
    body = build()
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise SystemExit(f"{payload}: answered {message['status']}")

    for _ in range(requests):
        await app(scope, receive, send)
        await asyncio.sleep(0)  # a loop turn between requests, as when served


def main() -> None:
    payload, requests = sys.argv[1], int(sys.argv[2])
    asyncio.run(_drive(payload, requests))


if __name__ == "__main__":
    main()
