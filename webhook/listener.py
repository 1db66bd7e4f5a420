"""A uvicorn server whose connections are GuardedProtocols, with TLS handshakes bounded in time and number.

uvicorn creates its listener with neither a protocol that takes our limits nor a handshake deadline
(the loop's default is 60 s): `startup` does what uvicorn's does for a host and port, with both. The
listener accepts plain TCP and puts the loop's own TLS protocol in front of each connection itself (as
the loop would): so a connection is ours from accept, and the ones still in their handshake can be
counted and closed. With TLS inside the loop's listener they would be out of reach
until the handshake ends, and a flood of connections that never start it held ~50 KiB each for the
whole deadline (bench/webhook/hostile.py: 2,000 of them, 170 MiB).
"""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import logging
import socket
import ssl
import sys
from typing import Any

import uvicorn
import uvloop
import uvloop.loop

from mcp_admission.webhook.protocol import GuardedProtocol, Limits

log = logging.getLogger("mcp_admission.webhook")
SWEEP = 0.5  # seconds between checks of the requests' deadlines: each is kept within this
STARTUP_FAILURE = 3  # uvicorn.server.STARTUP_FAILURE: the exit status uvicorn gives a failed start


class GuardedServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, limits: Limits, handshake_timeout: float | None) -> None:
        super().__init__(config)
        self.limits = limits
        self.handshake_timeout = handshake_timeout

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        assert sockets is None, "GuardedServer listens on its config's host and port"
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(STARTUP_FAILURE)
        config = self.config

        def create_protocol() -> asyncio.Protocol:
            protocol = GuardedProtocol(config, self.server_state, self.lifespan.state, self.limits)
            if config.ssl is None:
                return protocol
            return Handshake(protocol, config.ssl, self.limits, self.handshake_timeout)

        loop = asyncio.get_running_loop()
        try:
            server = await loop.create_server(
                create_protocol,
                host=config.host,
                port=config.port,
                backlog=config.backlog,
            )
        except OSError as exc:
            log.error("cannot listen on %s:%d: %s", config.host, config.port, exc)
            await self.lifespan.shutdown()
            sys.exit(STARTUP_FAILURE)
        self.servers = [server]
        self._sweeper = loop.call_later(SWEEP, self._sweep)
        log.info(
            "listening",
            extra={
                "fields": {"address": f"{'https' if config.ssl else 'http'}://{config.host}:{config.port}"}
            },
        )
        self.started = True

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        self.limits.sweep(loop.time())
        self._sweeper = loop.call_later(SWEEP, self._sweep)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._sweeper.cancel()
        await super().shutdown(sockets)

    async def serve_here(self) -> None:
        """Serve on the running loop until `should_exit`, leaving the signals alone (uvicorn's serve()
        would take SIGTERM and SIGINT over: webhook.server decides what they do)."""
        config = self.config
        if not config.loaded:
            config.load()
        self.lifespan = config.lifespan_class(config)
        await self.startup()
        await self.main_loop()
        await self.shutdown()


class Handshake(asyncio.Protocol):
    """An accepted connection: puts the loop's own TLS protocol in front of `app` at once, as the loop
    does for a listener with TLS, and keeps count until the handshake ends.

    At most `limits.max_handshakes` at once: one more closes the one that has been at it longest (an
    apiserver's handshake takes milliseconds); each has `timeout` seconds."""

    def __init__(
        self, app: GuardedProtocol, context: ssl.SSLContext, limits: Limits, timeout: float | None
    ) -> None:
        self.app = app
        self.context = context
        self.limits = limits
        self.timeout = timeout
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        loop = asyncio.get_running_loop()
        self.transport = transport
        done = loop.create_future()
        done.add_done_callback(self._done)
        # Before this returns: the loop starts reading right after, and the first bytes are the TLS hello.
        tls = _ssl_protocol(loop)(
            loop, self.app, self.context, done, server_side=True, ssl_handshake_timeout=self.timeout
        )
        transport.set_protocol(tls)
        tls.connection_made(transport)
        handshaking = self.limits.handshaking
        handshaking[self] = None
        if len(handshaking) > self.limits.max_handshakes:
            oldest = next(iter(handshaking))
            handshaking.pop(oldest)
            self.limits.count("handshakes")
            assert oldest.transport is not None
            oldest.transport.abort()

    def _done(self, done: asyncio.Future[None]) -> None:
        self.limits.handshaking.pop(self, None)
        if not done.cancelled() and done.exception() is not None and self.transport is not None:
            self.transport.abort()  # a failed or timed-out handshake: nothing to say to the client


def _ssl_protocol(loop: asyncio.AbstractEventLoop) -> Any:
    """The loop's own TLS protocol class (what its create_server and start_tls use): uvloop's in the
    server, asyncio's under the tests' plain loop. Same constructor."""
    if isinstance(loop, uvloop.Loop):
        return uvloop.loop.SSLProtocol  # type: ignore[attr-defined]
    return asyncio.sslproto.SSLProtocol
