"""The webhook's ASGI app: the raw admission handler in front, FastAPI behind it for everything else."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, make_asgi_app
from pydantic import BaseModel

from mcp_admission.policies import Policy, PolicyConfig
from mcp_admission.webhook.admission import PATHS, AdmissionHandler, Receive, Scope, Send
from mcp_admission.webhook.metrics import WebhookMetrics
from mcp_admission.webhook.schema import admission_openapi
from mcp_admission.webhook.settings import WebhookSettings


class Health(BaseModel):
    status: str


def _management_app(unready: Callable[[], str | None]) -> FastAPI:
    app = FastAPI(
        title="mcp-admission webhook",
        version="1",
        description="Admission webhook for MCP servers on Kubernetes: AdmissionReview v1 over TLS.",
    )

    @app.get("/healthz", response_model=Health)
    async def healthz() -> Health:
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, responses={503: {"model": Health}})
    async def readyz() -> Any:
        reason = unready()
        if reason is None:
            return Health(status="ok")
        return JSONResponse({"status": reason}, status_code=503)

    def openapi() -> dict[str, Any]:
        # /mutate and /validate are answered before FastAPI routing (see WebhookApp): describe them
        # from their models instead of registering routes that would never run.
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            paths, components = admission_openapi()
            schema["paths"].update(paths)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(components)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


class WebhookApp:
    """ASGI: POST /mutate and /validate go straight to the admission handler, the rest to FastAPI."""

    def __init__(self, admission: AdmissionHandler, management: FastAPI) -> None:
        self.admission = admission
        self.management = management

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            phase = PATHS.get(scope["path"])
            if phase is not None:
                await self.admission(phase, scope, receive, send)
                return
        await self.management(scope, receive, send)


def create_app(
    config: PolicyConfig,
    settings: WebhookSettings | None = None,
    *,
    policies: Sequence[Policy[Any]],
    unready: Callable[[], str | None] = lambda: None,
    metrics: WebhookMetrics | None = None,
) -> WebhookApp:
    """The app for one configuration running `policies` (the CLI's: ALL_POLICIES; tests, embedders: theirs).
    Without `metrics`, it counts on a registry of its own. `unready`: why /readyz answers 503 now, None
    when it answers 200."""
    settings = settings or WebhookSettings()
    metrics = metrics or WebhookMetrics(CollectorRegistry())
    handler = AdmissionHandler(config, policies, settings.max_body_bytes, metrics)
    return WebhookApp(handler, _management_app(unready))


_PROBE_HEADERS = [(b"content-type", b"application/json")]


class MetricsApp:
    """The plain-HTTP port: /metrics for Prometheus, and /healthz and /readyz for the kubelet's probes
    (no TLS handshake to wait for behind a flood of them on the admission port)."""

    def __init__(self, registry: CollectorRegistry, unready: Callable[[], str | None]) -> None:
        self.prometheus = make_asgi_app(registry)
        self.unready = unready

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path in ("/healthz", "/readyz"):
            reason = None if path == "/healthz" else self.unready()
            body = orjson.dumps({"status": reason or "ok"})
            status = 200 if reason is None else 503
            await send({"type": "http.response.start", "status": status, "headers": _PROBE_HEADERS})
            await send({"type": "http.response.body", "body": body})
            return
        # prometheus-client decodes these two headers as UTF-8: pass on only those that are.
        wanted = (b"accept", b"accept-encoding")
        headers = [(name, value) for name, value in scope["headers"] if name in wanted and value.isascii()]
        await self.prometheus({**scope, "headers": headers}, receive, send)
