"""The `certs:` section of the configuration file."""

from __future__ import annotations

from policies.settings import Model


class CertSettings(Model):
    service: str = "mcp-admission"
    namespace: str = "mcp-admission"
