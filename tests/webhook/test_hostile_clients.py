"""Issue 23: no client can take the webhook down. Each attack of the issue, bounded (MiB, hundreds of
connections, seconds), against `mcp-admission serve` run with the shipped configuration file as a
process, with a legitimate kept-alive client beside it. Asserted: what our limits do to the attacker
(status codes, connections closed by the configured deadlines, the cut counters), the server's peak RSS
against the Deployment's memory limit, and that the legitimate reviews were answered within the
webhook configurations' timeoutSeconds.

The deadlines are set shorter in that file (FAST: as a user would set them), so that a test waits one
second for a deadline rather than ten; a deadline is asserted against the configured value (not before
it, not much after). The shipped values themselves are checked once, against the docs and the defaults.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
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
# The deadlines the attacks run against, unless a test says otherwise (the other limits are the shipped
# ones): short, so that a test does not wait out the shipped 10 s and 5 s.
FAST = {"requestTimeout": 1.0, "handshakeTimeout": 1.0}
MAX_HEAD = int(SETTINGS["maxHeadBytes"])  # type: ignore[call-overload]
MAX_HANDSHAKES = int(SETTINGS["maxHandshakes"])  # type: ignore[call-overload]
METRICS_MAX_CONNECTIONS = int(SETTINGS["metricsMaxConnections"])  # type: ignore[call-overload]
TIMEOUT_SECONDS = hostile.shipped_timeout_seconds()
MEMORY_LIMIT = hostile.shipped_memory_limit()
# How long past a deadline the server may take to act on it: its sweep runs twice a second
# (webhook.listener.SWEEP), the rest is a loaded machine's scheduling. A bound, not a measurement.
SLACK = 3.0


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """The shipped configuration with FAST, or with the settings a test gives (indirect parameter)."""
    with hostile.shipped_server(tmp_path, overrides=getattr(request, "param", FAST)) as running:
        yield running


def at_the_deadline(seconds: list[float], deadline: float) -> None:
    """Closed by a deadline of `deadline` seconds: none before it, none much after it."""
    assert seconds, "no connection was closed"
    assert deadline <= seconds[0] and seconds[-1] <= deadline + SLACK, (deadline, seconds[0], seconds[-1])


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
    assert float(SETTINGS["requestTimeout"]) > TIMEOUT_SECONDS >= float(SETTINGS["handshakeTimeout"])  # type: ignore[arg-type]
    assert 16 * 1024 <= MAX_HEAD <= 64 * 1024  # the apiserver's heads are a few hundred bytes
    with pytest.raises(ValidationError, match="maxInflightBodyBytes must be at least maxBodyBytes"):
        WebhookSettings(max_body_bytes=4 * MIB, max_inflight_body_bytes=2 * MIB)


def documented_limits() -> dict[str, float]:
    """The table of deploy/README.md "What the webhook withstands": setting -> the shipped value it shows
    (`requestTimeout` (10 s), `maxHeadBytes` (32 KiB), `maxConnections` (1,000), ...)."""
    units = {"": 1, "s": 1, "KiB": 1024, "MiB": MIB}
    section = hostile.SHIPPED_README.read_text().split("## What the webhook withstands")[1].split("\n## ")[0]
    return {
        key: float(number.replace(",", "")) * units[unit]
        for key, number, unit in re.findall(r"\| `(\w+)` \(([\d.,]+) ?(s|KiB|MiB|)\)", section)
    }


def test_the_shipped_limits_are_the_defaults_and_the_documented_ones() -> None:
    """The tests below shorten the deadlines; what ships is checked here: deploy/base/config.yaml shows
    the built-in defaults, and deploy/README.md's table says the same."""
    defaults = WebhookSettings().model_dump(by_alias=True)
    documented = documented_limits()
    assert set(documented) == {
        *("maxHeadBytes", "requestTimeout", "handshakeTimeout", "maxHandshakes", "idleTimeout"),
        *("maxConnections", "maxBodyBytes", "maxInflightBodyBytes", "metricsMaxConnections"),
    }
    for key, value in documented.items():
        assert SETTINGS[key] == defaults[key], key
        assert value == pytest.approx(defaults[key], rel=0.01), key  # "3.25 MiB" rounds maxBodyBytes


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
    deadline = server.seconds("requestTimeout")
    outcome = asyncio.run(hostile.slowloris(server, 100, within=deadline + SLACK))
    assert outcome.statuses == {408: 100}
    assert outcome.closed == 100 and outcome.open_at_end == 0
    at_the_deadline(outcome.seconds(408), deadline)
    legit_held(legit)


def test_a_connection_that_sends_nothing_is_closed(server: Server) -> None:
    deadline = server.seconds("requestTimeout")

    async def silent() -> tuple[int | None, bool, float]:
        start = time.monotonic()
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", server.port, ssl=server.context(), server_hostname="127.0.0.1"
        )
        try:
            status, closed = await hostile.answer_then_eof(reader, deadline + SLACK)
            return status, closed, time.monotonic() - start
        finally:
            writer.close()

    status, closed, after = asyncio.run(silent())
    assert (status, closed) == (408, True)
    at_the_deadline([after], deadline)


def test_connections_that_never_start_tls_are_bounded_in_number_and_time(
    server: Server, legit: Legit
) -> None:
    """More than maxHandshakes connections that never start TLS: the oldest make room for newcomers (the
    legitimate client's new connections get through), the rest go at the handshake deadline."""
    deadline = server.seconds("handshakeTimeout")
    outcome = asyncio.run(hostile.slowloris(server, MAX_HANDSHAKES + 150, within=deadline + SLACK, tls=False))
    assert outcome.closed == MAX_HANDSHAKES + 150 and outcome.open_at_end == 0
    made_room = cut(server, "handshakes")
    assert made_room >= 150
    # Only those that made room went before the deadline; the others at it.
    closed_after = outcome.seconds(None)
    early = [after for after in closed_after if after < deadline]
    assert len(early) <= made_room
    at_the_deadline(closed_after[len(early) :], deadline)
    legit_held(legit)
    assert server.peak_rss < MEMORY_LIMIT


# 3 s: on a loaded machine the 40 heads (behind 40 handshakes and 132 MB of TLS) take over a second to
# arrive, and a connection cut at the deadline before its head arrived would count as 408, not 503.
@pytest.mark.parametrize("server", [{"requestTimeout": 3.0}], indirect=True, ids=["requestTimeout=3"])
def test_bodies_share_one_budget(server: Server, legit: Legit) -> None:
    """40 bodies of 3.3 MB that never finish (132 MB offered): past the 32 MiB budget the slowest are cut
    with 503, the rest at the request deadline with 408; memory stays under the pod's limit."""
    deadline = server.seconds("requestTimeout")
    outcome = asyncio.run(hostile.held_bodies(server, 40, 3_300_000, within=deadline + SLACK))
    budget = int(SETTINGS["maxInflightBodyBytes"])  # type: ignore[call-overload]
    assert set(outcome.statuses) <= {503, 408}
    assert outcome.statuses.get(503, 0) >= 40 - budget // 3_300_000
    assert outcome.closed == 40 and outcome.open_at_end == 0
    assert cut(server, "body_budget") == outcome.statuses[503]
    if 408 in outcome.statuses:
        at_the_deadline(outcome.seconds(408), deadline)
    legit_held(legit)
    assert server.peak_rss < MEMORY_LIMIT


# The shipped configuration whole: the memory bound is shown with the table full at its shipped size
# (1,050 handshakes, ~7 s), and the crowd must gather before any of it meets a deadline.
@pytest.mark.parametrize("server", [{}], indirect=True, ids=["shipped"])
def test_past_max_connections_the_longest_waiting_is_closed(server: Server, legit: Legit) -> None:
    extra = 50
    max_connections = int(server.settings["maxConnections"])  # type: ignore[call-overload]

    async def crowd() -> None:
        """Open them all, one after the other (each waits for its handshake), then let go."""
        context = server.context()
        opened = []
        for _ in range(max_connections + extra):
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
    assert metric(text, "mcp_admission_open_connections", listener="admission") <= max_connections
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
