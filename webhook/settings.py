"""The `webhook:` section of the configuration file (flags and MCP_ADMISSION_* variables override it)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from mcp_admission.models import Model

KIB = 1024
MIB = 1024 * KIB


class WebhookSettings(Model):
    host: str = "0.0.0.0"  # in a pod the apiserver reaches the Service's endpoints, not loopback
    port: int = Field(default=8443, ge=1, le=65535)
    metrics_port: int = Field(default=8080, ge=0, le=65535)  # 0: no metrics listener
    cert_file: str = "/etc/mcp-admission/tls/tls.crt"
    key_file: str = "/etc/mcp-admission/tls/tls.key"
    # The apiserver sends up to ~3 MiB (object + oldObject); the slack covers the review's envelope.
    max_body_bytes: int = Field(default=3 * MIB + 256 * 1024, ge=1024)
    # On SIGTERM: seconds to keep listening and answering, each answer with `Connection: close` and /readyz
    # 503, while the endpoint removal reaches every apiserver and its kept-alive connections to this pod
    # close after a complete answer; then the graceful shutdown. A second SIGTERM, or SIGINT, ends it.
    # Longer than idle_timeout, so a connection that no request reuses is closed by then too.
    drain_seconds: int = Field(default=10, ge=0, le=600)
    # Then seconds for in-flight requests to finish. drain_seconds + grace_period stays below the pod's
    # terminationGracePeriodSeconds (35 shipped), so they do.
    grace_period: int = Field(default=20, ge=0, le=600)  # seconds
    cert_reload_interval: float = Field(default=10.0, gt=0, le=3600)
    # What one client may hold (issue 23; deploy/README.md "What the webhook withstands"). The apiserver
    # sends a head of a few hundred bytes and the whole request at once, gives up after the webhook
    # configurations' timeoutSeconds (5 s shipped, 30 s at most), and keeps idle connections for 90 s.
    max_head_bytes: int = Field(default=32 * KIB, ge=4 * KIB, le=MIB)  # request line + headers: else 431/414
    handshake_timeout: float = Field(default=5.0, gt=0, le=60)  # seconds for the TLS handshake
    max_handshakes: int = Field(default=512, ge=16)  # at once; one more closes the one at it longest
    request_timeout: float = Field(default=10.0, gt=0, le=120)  # seconds for a whole request (head + body)
    idle_timeout: float = Field(default=5.0, gt=0, le=600)  # seconds a kept-alive connection may idle
    # Open connections after their handshake; one more closes the one that waited longest for a request.
    max_connections: int = Field(default=1000, ge=16)
    # Bodies being read at once, across connections: else the slowest reader is cut (503).
    max_inflight_body_bytes: int = Field(default=32 * MIB, ge=1024)
    metrics_max_connections: int = Field(default=64, ge=4)  # the same limits, on the metrics port

    @model_validator(mode="after")
    def _budget_holds_one_body(self) -> Self:
        if self.max_inflight_body_bytes < self.max_body_bytes:
            raise ValueError("maxInflightBodyBytes must be at least maxBodyBytes")
        return self
