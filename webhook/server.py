"""Running the webhook: uvicorn over TLS with a hot-reloaded certificate, plus a plain-HTTP port for metrics
and probes on the same event loop (no thread per connection); both with webhook.protocol's limits.

Stopping, as the kubelet does it (SIGTERM while the pod's endpoint is being removed, which takes each
apiserver a moment to see): first a drain of `drain_seconds`, in which the server keeps listening and
answering, but /readyz answers 503 and every answer closes its connection. The apiserver keeps
connections alive per webhook Service and reuses them whatever its endpoints say: closed by the server
*after* a complete answer, each is dropped from its pool cleanly, where closing it idle (what a plain
graceful shutdown does at once) can lose a review the apiserver is writing to it at that moment, and
its Go client does not resend a POST. Then the graceful shutdown: no more connections, requests in
flight finish within `grace_period`, exit 0."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import signal
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import uvicorn
import uvloop
from prometheus_client import CollectorRegistry

from mcp_admission.certs.metrics import CertMetrics
from mcp_admission.certs.reload import CertReloader
from mcp_admission.policies import Policy, PolicyConfig
from mcp_admission.webhook.app import MetricsApp, create_app
from mcp_admission.webhook.budget import BodyBudget
from mcp_admission.webhook.listener import GuardedServer
from mcp_admission.webhook.metrics import WebhookMetrics
from mcp_admission.webhook.protocol import Limits
from mcp_admission.webhook.settings import WebhookSettings

log = logging.getLogger("mcp_admission.webhook")

# Tasks that live as long as the server, e.g. the in-cluster certificate manager.
Companion = Callable[[], Coroutine[Any, Any, None]]


class WebhookServer:
    """One webhook process: admission over TLS (one uvicorn worker), metrics over plain HTTP."""

    def __init__(
        self,
        config: PolicyConfig,
        settings: WebhookSettings,
        *,
        policies: Sequence[Policy[Any]],
        companions: Sequence[Companion] = (),
        registry: CollectorRegistry | None = None,
        cert_metrics: CertMetrics | None = None,
    ) -> None:
        """`registry`: where the webhook's and the certificates' metrics are registered and served from
        (a fresh one by default, so several servers can run in one process); `cert_metrics`: those of the
        certificates when a companion (the certificate manager) shares them."""
        self.settings = settings
        self.companions = tuple(companions)
        self.registry = registry if registry is not None else CollectorRegistry()
        self.cert_metrics = cert_metrics or CertMetrics(self.registry)
        self.reloader: CertReloader | None = None
        self.limits = _limits(settings, settings.max_connections)
        self.metrics_limits = _limits(settings, settings.metrics_max_connections)
        metrics = WebhookMetrics(self.registry, {"admission": self.limits, "metrics": self.metrics_limits})
        app = create_app(config, settings, policies=policies, unready=self.unready, metrics=metrics)
        self.uvicorn = GuardedServer(
            _config(app, settings, settings.port, ssl=True), self.limits, settings.handshake_timeout
        )
        self.metrics_server = GuardedServer(
            _config(MetricsApp(self.registry, self.unready), settings, settings.metrics_port, ssl=False),
            self.metrics_limits,
            handshake_timeout=None,
        )
        self._loop: asyncio.AbstractEventLoop | None = None  # while serving
        self._drain_end: asyncio.TimerHandle | None = None

    def unready(self) -> str | None:
        """Why /readyz answers 503 now (the kubelet then takes the pod out of its Services), or None."""
        if self.limits.draining:
            return "draining"
        if self.reloader is None or not self.reloader.loaded:
            return "certificate not loaded"
        return None

    @property
    def started(self) -> bool:
        metrics_started = self.metrics_server.started or not self.settings.metrics_port
        return self.uvicorn.started and metrics_started

    def drain(self) -> None:
        """What SIGTERM does: drain for `drain_seconds`, then shut down gracefully. Called again during the
        drain, it shuts down now (see stop). Safe from a signal handler or another thread."""
        self._on_loop(self._drain)

    def stop(self) -> None:
        """Shut down gracefully now (SIGINT, or a second SIGTERM, during a drain ends it); called again
        during the shutdown, stop waiting for requests in flight (uvicorn's second Ctrl+C). Safe from a
        signal handler or another thread."""
        self._on_loop(self._stop)

    def _on_loop(self, step: Callable[[], None]) -> None:
        # A signal handler may run in the middle of the loop's own work: only call_soon_threadsafe is safe.
        loop = self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(step)
                return
            except RuntimeError:  # closed: serve() has returned
                pass
        self.uvicorn.should_exit = True  # not serving (yet): nothing to drain or wait for

    def _drain(self) -> None:
        again = self.limits.draining or self.uvicorn.should_exit
        if again or not self.settings.drain_seconds or not self.uvicorn.started:  # (nothing to drain yet)
            self._stop()
            return
        self.limits.drain()
        log.info("draining", extra={"fields": {"seconds": self.settings.drain_seconds}})
        assert self._loop is not None
        self._drain_end = self._loop.call_later(self.settings.drain_seconds, self._stop)

    def _stop(self) -> None:
        if self._drain_end is not None:
            self._drain_end.cancel()
            self._drain_end = None
        if self.uvicorn.should_exit:
            self.uvicorn.force_exit = True
            return
        log.info("shutting down", extra={"fields": {"gracePeriod": self.settings.grace_period}})
        self.uvicorn.should_exit = True

    async def serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        config = self.uvicorn.config
        config.load()  # builds config.ssl, the context every handshake uses
        assert config.ssl is not None
        # Reload into that very context: new handshakes get a replaced pair, open connections keep theirs.
        self.reloader = CertReloader(
            config.ssl,
            self.settings.cert_file,
            self.settings.key_file,
            metrics=self.cert_metrics,
            interval=self.settings.cert_reload_interval,
        )
        self.reloader.reload()
        tasks = [asyncio.create_task(self.reloader.run(), name="cert-reloader")]
        tasks += [asyncio.create_task(companion()) for companion in self.companions]
        metrics = None
        if self.settings.metrics_port:
            metrics = asyncio.create_task(self.metrics_server.serve_here(), name="metrics")
        try:
            await self.uvicorn.serve_here()
        finally:
            self._loop = None
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if metrics is not None:
                self.metrics_server.should_exit = True
                await metrics


def _limits(settings: WebhookSettings, max_connections: int) -> Limits:
    return Limits(
        max_head_bytes=settings.max_head_bytes,
        request_timeout=settings.request_timeout,
        max_connections=max_connections,
        max_body_bytes=settings.max_body_bytes,
        budget=BodyBudget(settings.max_inflight_body_bytes),
        max_handshakes=settings.max_handshakes,
    )


def _config(app: Any, settings: WebhookSettings, port: int, *, ssl: bool) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=port,
        ssl_certfile=settings.cert_file if ssl else None,
        ssl_keyfile=settings.key_file if ssl else None,
        http="httptools",  # the class uvicorn would use; GuardedServer makes GuardedProtocols
        ws="none",  # an upgraded connection would leave GuardedProtocol's limits; nothing here speaks it
        lifespan="off",
        log_config=None,  # the process's JSON logging (webhook.logs) applies
        access_log=False,  # one structured line per decision instead
        server_header=False,
        date_header=ssl,  # Prometheus and probes do not read it
        proxy_headers=False,  # the apiserver calls us directly: no X-Forwarded-* to trust
        timeout_keep_alive=settings.idle_timeout,  # type: ignore[arg-type]  # a float works (call_later)
        timeout_graceful_shutdown=settings.grace_period,
    )


def return_large_buffers_to_the_system() -> None:
    """Have glibc map every allocation of 128 KiB or more on its own and unmap it when freed.

    Its default raises that threshold to the largest block freed so far (up to 32 MiB): after one 3 MiB
    body, later bodies come from the heap, whose freed pages the process keeps. Under a flood of large
    bodies (issue 23) that doubled the peak RSS for the same bytes in flight (bench/webhook/hostile.py).
    The price: the TLS layer's 256 KiB buffer for every read is then an mmap and a munmap, ~30 µs per
    request on the whole stack (bench/README.md, "Hostile clients"); a memory bound under attack wins.
    """
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024)
    except (OSError, AttributeError):  # not glibc: its own policy applies
        pass


M_MMAP_THRESHOLD = -3  # glibc's malloc.h


def run_until_stopped(server: WebhookServer) -> None:
    """Serve in this (main) thread on uvloop until SIGTERM/SIGINT, then return after a graceful shutdown.

    SIGTERM (the kubelet's) drains first; SIGINT (Ctrl+C) does not. Each further signal goes one step
    further: a drain ends at once, then the shutdown stops waiting for requests in flight."""
    return_large_buffers_to_the_system()
    signal.signal(signal.SIGTERM, lambda signum, frame: server.drain())
    signal.signal(signal.SIGINT, lambda signum, frame: server.stop())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(server.serve())
