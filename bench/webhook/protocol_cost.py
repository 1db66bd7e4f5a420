"""What the connection guards (webhook.protocol) cost per request: uvicorn's httptools protocol and ours,
each fed the same kept-alive requests through a fake transport on uvloop, with an application that
answers at once; interleaved rounds, best of each. No sockets, TLS or load generator, so the difference
is the guards' own work, free of the machine's noise that run.py's wall-clock ratios carry. uvicorn's
h11 protocol, whose `h11_max_incomplete_event_size` would bound the head without our guards, for scale.

    .venv/bin/python bench/webhook/protocol_cost.py [--requests 20000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import uvicorn
import uvloop
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from mcp_admission.webhook.budget import BodyBudget
from mcp_admission.webhook.protocol import GuardedProtocol, Limits
from mcp_admission.webhook.settings import WebhookSettings

BODY = b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x"}}' * 10
REQUEST = (
    b"POST /mutate?timeout=5s HTTP/1.1\r\nHost: mcp-admission.mcp-admission.svc:443\r\n"
    b"User-Agent: kube-apiserver-admission\r\nAccept: application/json, */*\r\n"
    b"Content-Type: application/json\r\nContent-Length: %d\r\nAccept-Encoding: gzip\r\n\r\n" % len(BODY)
) + BODY
ANSWER = (
    b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"x","allowed":true}}'
)


class Transport:
    def __init__(self) -> None:
        self.written = 0
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written += 1

    def close(self) -> None:
        self.closing = True

    abort = close

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8443)}.get(name, default)


async def app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": ANSWER})


async def per_request(make: Any, requests: int) -> float:
    protocol = make()
    transport = Transport()
    protocol.connection_made(transport)
    start = time.process_time()
    for _ in range(requests):
        protocol.data_received(REQUEST)
        while not protocol.cycle.response_complete or protocol.server_state.tasks:
            await asyncio.sleep(0)
    seconds = time.process_time() - start
    assert transport.written >= requests, transport.written
    protocol.connection_lost(None)
    return seconds / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    config = uvicorn.Config(app, http="httptools", lifespan="off", log_config=None, access_log=False)
    config.load()
    settings = WebhookSettings()
    limits = Limits(
        settings.max_head_bytes,
        settings.request_timeout,
        settings.max_connections,
        settings.max_body_bytes,
        BodyBudget(settings.max_inflight_body_bytes),
    )
    h11 = uvicorn.Config(
        app,
        http="h11",
        lifespan="off",
        log_config=None,
        h11_max_incomplete_event_size=settings.max_head_bytes,
    )
    h11.load()
    makers = {
        "uvicorn": lambda: HttpToolsProtocol(config, ServerState(), {}),
        "guarded": lambda: GuardedProtocol(config, ServerState(), {}, limits),
        "h11 (its own head limit)": lambda: H11Protocol(h11, ServerState(), {}),
    }
    best = dict.fromkeys(makers, float("inf"))
    for _ in range(args.rounds):
        for name, make in makers.items():
            best[name] = min(best[name], uvloop.run(per_request(make, args.requests)))
    print(
        f"CPU per request, best of {args.rounds} x {args.requests}: "
        + ", ".join(f"{k} {v:.2f} us" for k, v in best.items())
    )
    print(f"the guards: +{best['guarded'] - best['uvicorn']:.2f} us per request")


if __name__ == "__main__":
    main()
