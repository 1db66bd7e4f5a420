"""How every long-running part exposes its metrics: its own metrics object registered on a registry the
caller chooses (the process's default one in the CLI, a fresh one per instance in tests), served on a
plain-HTTP port by prometheus-client's server (scrapes need no client certificate)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, start_http_server


def serve_metrics(port: int, address: str, registry: CollectorRegistry) -> Callable[[], None]:
    """Serve `registry` on http://address:port/metrics from a thread of its own; returns the stop."""
    server, thread = start_http_server(port, addr=address, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return stop
