"""A uvicorn server whose connections are GuardedProtocols and whose TLS handshakes have a deadline.

uvicorn creates its listener with neither a protocol that takes our limits nor `ssl_handshake_timeout`
(the loop's default is 60 s): `startup` does what uvicorn's does for a host and port, with both.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys

import uvicorn

from mcp_admission.webhook.protocol import GuardedProtocol, Limits

log = logging.getLogger("mcp_admission.webhook")
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
            return GuardedProtocol(config, self.server_state, self.lifespan.state, self.limits)

        loop = asyncio.get_running_loop()
        try:
            server = await loop.create_server(
                create_protocol,
                host=config.host,
                port=config.port,
                ssl=config.ssl,
                backlog=config.backlog,
                ssl_handshake_timeout=self.handshake_timeout if config.ssl else None,
            )
        except OSError as exc:
            log.error("cannot listen on %s:%d: %s", config.host, config.port, exc)
            await self.lifespan.shutdown()
            sys.exit(STARTUP_FAILURE)
        self.servers = [server]
        log.info(
            "listening",
            extra={
                "fields": {"address": f"{'https' if config.ssl else 'http'}://{config.host}:{config.port}"}
            },
        )
        self.started = True

    async def serve_beside(self) -> None:
        """Serve on the running loop beside another uvicorn server, which owns the signals (no
        capture_signals here): until `should_exit`."""
        config = self.config
        if not config.loaded:
            config.load()
        self.lifespan = config.lifespan_class(config)
        await self.startup()
        await self.main_loop()
        await self.shutdown()
