"""CPU instructions per admission request, counted by callgrind: repeatable on a noisy shared machine.

    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null --log-file=cg.log \
        .venv/bin/python bench/webhook/instructions.py PAYLOAD N [--log info] 2>/dev/null
    grep Collected cg.log

Drives the real ASGI app with N requests of one payload of payloads.py (in process, as in_process.py).
By default logging is not configured, so no decision lines: the engine and the handler only; `--log info`
configures it as `serve` does (one JSON line per patched or warned decision, on stderr) to price those
lines too; `--baseline` drives the load benchmark's bare endpoint (serve.baseline) instead. callgrind
writes the total ("Collected") to its log file (stderr would mix it with the decision lines); one
request costs (total at N - total at 0) / N. Compare two trees at the same N.
"""

from __future__ import annotations

import argparse
import asyncio

from payloads import PAYLOADS
from serve import App, Message, baseline

from mcp_admission import logs
from mcp_admission.cli.config import load_config
from mcp_admission.cli.options import LOG_LEVELS
from mcp_admission.policies import ALL_POLICIES
from mcp_admission.webhook.app import create_app


async def _drive(payload: str, requests: int, bare: bool) -> None:
    app: App = baseline if bare else create_app(load_config(None), policies=ALL_POLICIES)
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
    parser = argparse.ArgumentParser()
    parser.add_argument("payload", choices=PAYLOADS)
    parser.add_argument("requests", type=int)
    parser.add_argument("--log", choices=LOG_LEVELS, help="configure logging at this level, as serve does")
    parser.add_argument("--baseline", action="store_true", help="the bare endpoint instead of the webhook")
    args = parser.parse_args()
    if args.log:
        logs.configure(args.log)
    asyncio.run(_drive(args.payload, args.requests, args.baseline))


if __name__ == "__main__":
    main()
