"""The `webhook:` section of the configuration file (flags and MCP_ADMISSION_* variables override it)."""

from __future__ import annotations

from pydantic import Field

from mcp_admission.models import Model

MIB = 1024 * 1024


class WebhookSettings(Model):
    host: str = "0.0.0.0"  # in a pod the apiserver reaches the Service's endpoints, not loopback
    port: int = Field(default=8443, ge=1, le=65535)
    metrics_port: int = Field(default=8080, ge=0, le=65535)  # 0: no metrics listener
    cert_file: str = "/etc/mcp-admission/tls/tls.crt"
    key_file: str = "/etc/mcp-admission/tls/tls.key"
    # The apiserver sends up to ~3 MiB (object + oldObject); the slack covers the review's envelope.
    max_body_bytes: int = Field(default=3 * MIB + 256 * 1024, ge=1024)
    # Below the pod's terminationGracePeriodSeconds (30 by default), so in-flight requests finish.
    grace_period: int = Field(default=20, ge=0, le=600)  # seconds
    cert_reload_interval: float = Field(default=10.0, gt=0, le=3600)
