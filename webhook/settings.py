"""The `webhook:` section of the configuration file."""

from __future__ import annotations

from pydantic import Field

from policies.settings import Model


class WebhookSettings(Model):
    port: int = Field(default=8443, ge=1, le=65535)
    metrics_port: int = Field(default=8080, ge=0, le=65535)
    cert_file: str = "/etc/mcp-admission/tls/tls.crt"
    key_file: str = "/etc/mcp-admission/tls/tls.key"
