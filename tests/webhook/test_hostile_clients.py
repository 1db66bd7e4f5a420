"""Issue 23: no client can take the webhook down. Each attack of the issue, bounded (MiB, hundreds of
connections, seconds), against `mcp-admission serve` run with the shipped configuration file as a
process, with a legitimate kept-alive client beside it. Asserted: what our limits do to the attacker
(status codes, connections closed by the configured deadlines, the cut counters), the server's peak RSS
against the Deployment's memory limit, and that the legitimate reviews were answered within the
webhook configurations' timeoutSeconds.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from mcp_admission.webhook.settings import WebhookSettings
from tests.support import eventually

from . import hostile
from .hostile import MIB, Legit, Server
from .support import metric

SETTINGS = hostile.shipped_settings()
REQUEST_TIMEOUT = float(SETTINGS["requestTimeout"])  # type: ignore[arg-type]
HANDSHAKE_TIMEOUT = float(SETTINGS["handshakeTimeout"])  # type: ignore[arg-type]
MAX_HEAD = int(SETTINGS["maxHeadBytes"])  # type: ignore[call-overload]
MAX_CONNECTIONS = int(SETTINGS["maxConnections"])  # type: ignore[call-overload]
MAX_HANDSHAKES = int(SETTINGS["maxHandshakes"])  # type: ignore[call-overload]
METRICS_MAX_CONNECTIONS = int(SETTINGS["metricsMaxConnections"])  # type: ignore[call-overload]
TIMEOUT_SECONDS = hostile.shipped_timeout_seconds()
MEMORY_LIMIT = hostile.shipped_memory_limit()
# How long past a deadline the test waits for the server to act on it: a bound, not a measurement.
SLACK = 5.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with hostile.shipped_server(tmp_path) as running:
        yield running


@pytest.fixture
def legit(server: Server) -> Iterator[Legit]:
    with hostile.legit_beside(server, TIMEOUT_SECONDS) as beside:
        yield beside


def cut(server: Server, reason: str, listener: str = "admission") -> float:
    return metric(server.metrics(), "mcp_admission_connections_cut_total", listener=listener, reason=reason)


def legit_held(legit: Legit) -> None:
    """The legitimate reviews sent during and after the attack: ≥ 99 % answered within timeoutSeconds."""
    eventually(lambda: legit.sent >= 10, "ten legitimate reviews")
    legit.stop.set()
    assert legit.within_timeout() >= 0.99, legit.failures[:3]


def test_the_limits_are_consistent_with_what_the_apiserver_does() -> None:
    # The apiserver abandons a call after timeoutSeconds: a request may take longer than that to arrive
    # only by attack, and a handshake that long has already failed the call.
    assert REQUEST_TIMEOUT > TIMEOUT_SECONDS >= HANDSHAKE_TIMEOUT
    assert 16 * 1024 <= MAX_HEAD <= 64 * 1024  # the apiserver's heads are a few hundred bytes
    with pytest.raises(ValidationError, match="maxInflightBodyBytes must be at least maxBodyBytes"):
        WebhookSettings(max_body_bytes=4 * MIB, max_inflight_body_bytes=2 * MIB)


@pytest.mark.parametrize(("kind", "status"), [("lines", 431), ("value", 431), ("url", 414)])
def test_an_endless_head_is_refused_and_closed(server: Server, legit: Legit, kind: str, status: int) -> None:
    outcome = asyncio.run(hostile.endless_head(server, kind, 32 * MIB, within=30))
    assert outcome.statuses == {status: 1}
    assert outcome.closed == 1
    assert cut(server, "head") == 1
    legit_held(legit)
    assert server.peak_rss < MEMORY_LIMIT


def test_heads_and_bodies_within_the_limits_are_served(server: Server) -> None:
    """A head just under maxHeadBytes, then a body of nearly maxBodyBytes sent with it in one write."""
    body = hostile.admission_review("big")
    padding = b"p" * (int(SETTINGS["maxBodyBytes"]) - len(body) - 64)  # type: ignore[call-overload]
    big = body.replace(b'"dryRun":false', b'"dryRun":false,"pad":"' + padding + b'"')
    with httpx.Client(base_url=f"https://127.0.0.1:{server.port}", verify=server.context()) as client:
        headers = {"content-type": "application/json", "x-pad": "h" * (MAX_HEAD - 1024)}
        answer = client.post("/mutate", content=big, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["response"]["uid"] == "big"


def test_slow_heads_are_cut_at_the_request_deadline(server: Server, legit: Legit) -> None:
    outcome = asyncio.run(hostile.slowloris(server, 100, within=REQUEST_TIMEOUT + SLACK))
    assert outcome.statuses == {408: 100}
    assert outcome.closed == 100 and outcome.open_at_end == 0
    legit_held(legit)


def test_a_connection_that_sends_nothing_is_closed(server: Server) -> None:
    async def silent() -> tuple[int | None, bool]:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", server.port, ssl=server.context(), server_hostname="127.0.0.1"
        )
        try:
            return await hostile.answer_then_eof(reader, REQUEST_TIMEOUT + SLACK)
        finally:
            writer.close()

    assert asyncio.run(silent()) == (408, True)


def test_connections_that_never_start_tls_are_bounded_in_number_and_time(
    server: Server, legit: Legit
) -> None:
    """More than maxHandshakes connections that never start TLS: the oldest make room for newcomers (the
    legitimate client's new connections get through), the rest go at the handshake deadline."""
    outcome = asyncio.run(
        hostile.slowloris(server, MAX_HANDSHAKES + 150, within=HANDSHAKE_TIMEOUT + SLACK, tls=False)
    )
    assert outcome.closed == MAX_HANDSHAKES + 150 and outcome.open_at_end == 0
    assert cut(server, "handshakes") >= 150
    legit_held(legit)
    assert server.peak_rss < MEMORY_LIMIT


def test_bodies_share_one_budget(server: Server, legit: Legit) -> None:
    """40 bodies of 3.3 MB that never finish (132 MB offered): past the 32 MiB budget the slowest are cut
    with 503, the rest at the request deadline with 408; memory stays under the pod's limit."""
    outcome = asyncio.run(hostile.held_bodies(server, 40, 3_300_000, within=REQUEST_TIMEOUT + SLACK))
    budget = int(SETTINGS["maxInflightBodyBytes"])  # type: ignore[call-overload]
    assert set(outcome.statuses) <= {503, 408}
    assert outcome.statuses.get(503, 0) >= 40 - budget // 3_300_000
    assert outcome.closed == 40 and outcome.open_at_end == 0
    assert cut(server, "body_budget") == outcome.statuses[503]
    legit_held(legit)
    assert server.peak_rss < MEMORY_LIMIT


def test_past_max_connections_the_longest_waiting_is_closed(server: Server, legit: Legit) -> None:
    extra = 50

    async def crowd() -> None:
        """Open them all, one after the other (each waits for its handshake), then let go."""
        context = server.context()
        opened = []
        for _ in range(MAX_CONNECTIONS + extra):
            opened.append(
                await asyncio.open_connection(
                    "127.0.0.1", server.port, ssl=context, server_hostname="127.0.0.1"
                )
            )
        for _, writer in opened:
            writer.transport.abort()

    evicted_before = cut(server, "evicted")
    asyncio.run(crowd())
    assert cut(server, "evicted") - evicted_before >= extra
    text = server.metrics()
    assert metric(text, "mcp_admission_open_connections", listener="admission") <= MAX_CONNECTIONS
    legit_held(legit)
    assert server.peak_rss < MEMORY_LIMIT


def test_the_metrics_port_takes_no_thread_per_connection_and_keeps_answering(
    server: Server, legit: Legit
) -> None:
    threads = server.status("Threads")
    sockets = [socket.create_connection(("127.0.0.1", server.metrics_port)) for _ in range(200)]
    try:
        # Probes and scrapes still get in: the longest-waiting idle connection makes room.
        ready = httpx.get(f"http://127.0.0.1:{server.metrics_port}/readyz", timeout=5)
        assert ready.json() == {"status": "ok"}
        assert "mcp_admission_requests_total" in server.metrics()
        assert server.status("Threads") == threads
        assert cut(server, "evicted", listener="metrics") >= 200 - METRICS_MAX_CONNECTIONS
    finally:
        for sock in sockets:
            sock.close()
    legit_held(legit)


def test_an_upgrade_request_is_served_as_http_and_logs_nothing(server: Server) -> None:
    """An upgraded connection would leave the limits: upgrades are off, and not one log line each."""

    async def upgrade() -> bytes:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", server.port, ssl=server.context(), server_hostname="127.0.0.1"
        )
        writer.write(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        line = await asyncio.wait_for(reader.readline(), 10)
        writer.close()
        return line

    assert asyncio.run(upgrade()).startswith(b"HTTP/1.1 200 ")
    assert '"warning"' not in server.log.read_text()
