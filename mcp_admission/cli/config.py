"""The one configuration file every command reads: the engine's settings plus each part's own section."""

from __future__ import annotations

import os
from dataclasses import field

from mcp_admission.certs.settings import CertSettings
from mcp_admission.configfile import read_config
from mcp_admission.policies import PolicyConfig
from mcp_admission.reconciler.settings import ReconcilerSettings
from mcp_admission.records import record
from mcp_admission.webhook.settings import WebhookSettings


@record
class Config(PolicyConfig):
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    reconciler: ReconcilerSettings = field(default_factory=ReconcilerSettings)
    certs: CertSettings = field(default_factory=CertSettings)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """The configuration from `path`, else $MCP_ADMISSION_CONFIG, else the built-in defaults."""
    return read_config(Config, path)
