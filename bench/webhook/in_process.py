"""What one admission request costs the webhook's application in process, with warm and with cold caches.

    .venv/bin/python bench/webhook/in_process.py [--requests 1500]

Drives the real ASGI app (`webhook.app.create_app`, decision logs on) and the load benchmark's baseline
(`serve.baseline`) with each payload of payloads.py through an in-memory receive/send: no TLS, no
sockets, no load generator, so the numbers are the applications' own. "cold" writes an 8 MiB buffer
before each request, evicting the CPU caches as the kernel, TLS and event loop do between requests
under load; "warm" runs the requests back to back. Printed: the median microseconds per request.
The webhook's extra work is what it costs beyond the baseline; under load it is paid at least at the
cold price (see bench/README.md, "Webhook load").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from time import perf_counter_ns

from payloads import PAYLOADS
from serve import App, Message, baseline

from mcp_admission import logs
from mcp_admission.cli.config import load_config
from mcp_admission.policies import ALL_POLICIES
from mcp_admission.webhook.app import create_app

_CACHE_SWEEP = bytearray(8 * 1024 * 1024)


def _evict_caches() -> None:
    _CACHE_SWEEP[::64] = b"\1" * (len(_CACHE_SWEEP) // 64)  # one write per 64-byte cache line


async def _median_us(app: App, path: str, body: bytes, requests: int, cold: bool) -> float:
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    statuses: list[int] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    times = []
    for _ in range(requests):
        if cold:
            _evict_caches()
        start = perf_counter_ns()
        await app(scope, receive, send)
        times.append((perf_counter_ns() - start) / 1000)
        await asyncio.sleep(0)  # a loop turn ends between requests: the decision log flushes (untimed)
    if set(statuses) != {200}:
        raise SystemExit(f"{path}: answers {sorted(set(statuses))}, expected 200 only")
    return statistics.median(times)


async def _main(requests: int) -> None:
    webhook = create_app(load_config(None), policies=ALL_POLICIES)
    print(f"{'payload':<20} {'':<6} {'baseline us':>12} {'webhook us':>12} {'extra us':>10}")
    for name, (build, path) in PAYLOADS.items():
        body = build()
        for cold in (False, True):
            base = await _median_us(baseline, path, body, requests, cold)
            hook = await _median_us(webhook, path, body, requests, cold)
            label = "cold" if cold else "warm"
            print(f"{name:<20} {label:<6} {base:>12.1f} {hook:>12.1f} {hook - base:>10.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1500)
    options = parser.parse_args()
    logs.configure("info")  # as served: decision lines for MCP decisions, written to /dev/null here
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (for the whole run)
    asyncio.run(_main(options.requests))


if __name__ == "__main__":
    main()
