"""uvicorn's httptools protocol with the limits a server that any pod can reach needs (issue 23).

uvicorn bounds neither the request head (httptools has no limit and copies a header value or URL on
every chunk: quadratic) nor the time a connection may take to send a request (its keep-alive timer
starts only after a response), nor the number of connections. Here, per connection:

- the head (request line and headers) is at most `max_head_bytes`: bytes are counted before httptools
  sees them, so it never parses more; past that, 414 (the URL) or 431 and the connection is closed;
- a request must be complete (head and body) within `request_timeout` of its first byte, or of the
  connection's start for its first request: else 408 and closed (Go: ReadHeaderTimeout/ReadTimeout;
  deadlines are checked by Limits.sweep, twice a second);
- between requests uvicorn's keep-alive timer (`timeout_keep_alive`) closes an idle connection;

and across connections, at most `max_connections` are open after their TLS handshake: one more
closes the one that has waited longest for a complete request (idle or sending slowly), never one
whose request the application is answering; with none to close, the newcomer is closed at once. Bodies
being read share one budget (webhook.budget); TLS handshakes are bounded by webhook.listener.

While the server drains (`Limits.drain`, webhook.server), every answer carries `Connection: close` and
its connection is closed after it: uvicorn's own way to end a keep-alive (what its shutdown does to a
request in flight; Go's http.Server does the same once Shutdown has been called).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from time import monotonic
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from mcp_admission.webhook.budget import BodyBudget
from mcp_admission.webhook.review import problem

LINGER = 0.5  # seconds a connection closed by a limit may take to receive its answer (Go: 500 ms)


@dataclass
class Limits:
    """The limits of one listener, and what they cut (read by tests and the bench through metrics)."""

    max_head_bytes: int
    request_timeout: float
    max_connections: int
    max_body_bytes: int
    budget: BodyBudget
    max_handshakes: int = 0  # TLS handshakes under way at once (webhook.listener)
    # Connections by state; a protocol moves itself between these.
    open: set[GuardedProtocol] = field(default_factory=set)
    handshaking: dict[Any, None] = field(default_factory=dict)  # oldest first
    cut: dict[str, int] = field(default_factory=dict)  # reason -> connections closed by a limit
    draining: bool = False  # set by drain(): no connection is kept alive after its next answer

    def sweep(self, now: float) -> None:
        """Close the connections whose request is not complete by its deadline."""
        for protocol in [p for p in self.open if p.deadline and p.deadline <= now]:
            protocol.timed_out()

    def drain(self) -> None:
        """From now on every answer closes its connection, those being computed included (one already
        begun goes without the header: that connection's next answer closes it, or its idle timeout)."""
        self.draining = True
        for protocol in self.open:
            protocol.close_after_answer()

    def count(self, reason: str) -> None:
        self.cut[reason] = self.cut.get(reason, 0) + 1

    def admit(self, newcomer: GuardedProtocol) -> bool:
        """Room for `newcomer`: closes the connection that has waited longest without a complete request
        when the table is full; False when every open connection is busy (the newcomer is closed)."""
        if len(self.open) < self.max_connections:
            self.open.add(newcomer)
            return True
        waiting = [p for p in self.open if not p.busy]
        if not waiting:
            self.count("connections")
            return False
        oldest = min(waiting, key=lambda p: p.waiting_since)
        self.count("evicted")
        oldest.close()
        self.open.add(newcomer)
        return True


class GuardedProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        limits: Limits,
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self.in_head = True  # reading a request head, or waiting for one
        self.head_bytes = 0
        self.busy = False  # the application has a complete request: never evicted
        self.waiting_since = monotonic()
        self.deadline = 0.0  # loop time by which the request being read must be complete; 0: none
        self.lost = False

    # Connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.waiting_since = monotonic()
        if not self.limits.admit(self):
            transport.abort()
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._forget()
        super().connection_lost(exc)

    def close(self) -> None:
        """Closed by a limit: the request being read, if any, ends as a disconnect for the application.

        Closed, then aborted after LINGER if the client has not finished the TLS close by then. Aborting
        at once would lose the answer saying why (a reset discards what the client has not read yet; Go
        lingers 500 ms for this); a plain TLS close waits up to 30 s for the client's close_notify, with
        this connection's buffers (hundreds of KiB under a flood of bodies) kept all that time."""
        self._forget()
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
            self.cycle.body = bytearray()
        self.transport.close()
        self.loop.call_later(LINGER, self._abort)

    def close_after_answer(self) -> None:
        """uvicorn then sends `Connection: close` with the answer and closes the connection after it."""
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            cycle.keep_alive = False

    def _abort(self) -> None:
        if not self.lost:
            self.transport.abort()

    def _forget(self) -> None:
        self.limits.open.discard(self)
        self.limits.budget.release(self)
        self._disarm()

    def cut_body(self) -> None:
        self.limits.count("body_budget")
        if self.cycle is None or not self.cycle.response_started:
            self._refuse(503, "too many request bodies in flight; this one was the slowest")
        else:
            self.close()

    # Deadline of the request being read

    def _arm(self) -> None:
        # Checked by Limits.sweep twice a second, not by a timer per request: call_later and cancel on
        # every request were a third of the guards' cost (bench/webhook/protocol_cost.py).
        if not self.deadline:
            self.deadline = self.loop.time() + self.limits.request_timeout

    def _disarm(self) -> None:
        self.deadline = 0.0

    def timed_out(self) -> None:
        self.deadline = 0.0
        if self.transport.is_closing():
            return
        self.limits.count("timeout")
        if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:
            self._refuse(408, f"request not complete within {self.limits.request_timeout:g} s")
        else:
            self.close()

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` outside any request cycle (the head is not complete), then close."""
        body = problem(message)
        self.transport.write(
            b"".join(
                (
                    STATUS_LINE[status],
                    b"content-type: application/json\r\n",
                    b"content-length: %d\r\n" % len(body),
                    b"connection: close\r\n\r\n",
                    body,
                )
            )
        )
        self.close()

    # Bytes in

    def data_received(self, data: bytes) -> None:
        if self.in_head:
            room = self.limits.max_head_bytes - self.head_bytes
            if len(data) > room:
                # Let the parser see only what the limit allows: if the head ends in there, the rest is
                # the body (or the next request), read as usual.
                super().data_received(data[:room])
                if self.in_head and not self.transport.is_closing():
                    self._head_too_large()
                    return
                data = data[room:]
                if not data or self.transport.is_closing():
                    return
            else:
                self.head_bytes += len(data)
        super().data_received(data)

    def _head_too_large(self) -> None:
        self.limits.count("head")
        limit = self.limits.max_head_bytes
        # The URL is still being read when it alone fills most of the head.
        if len(getattr(self, "url", b"")) * 2 > limit:
            self._refuse(414, f"request URL longer than {limit} bytes")
        else:
            self._refuse(431, f"request head larger than {limit} bytes")

    def _unsupported_upgrade_warning(self) -> None:
        """No log lines for a client to multiply: an Upgrade header is ignored and the request served."""

    # Parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()  # a kept-alive connection: from this request's first byte

    def on_headers_complete(self) -> None:
        self.in_head = False
        super().on_headers_complete()
        if self.limits.draining:
            self.close_after_answer()
        size = self._body_size()
        if size:
            self.limits.budget.reserve(self, size)

    def _body_size(self) -> int:
        """What the body may take: its declared length, or the most a body may be when it is chunked."""
        for name, value in self.headers:
            if name == b"content-length":
                return min(int(value), self.limits.max_body_bytes) if value.isdigit() else 0
            if name == b"transfer-encoding":
                return self.limits.max_body_bytes
        return 0

    def on_message_complete(self) -> None:
        self._disarm()
        self.limits.budget.release(self)
        self.busy = True
        self.in_head = True
        self.head_bytes = 0
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self.busy = False
        self.waiting_since = monotonic()
        super().on_response_complete()
