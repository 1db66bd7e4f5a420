"""The pydantic base of the adapters' settings (webhook, reconciler, certs): read only by their commands.

The engine's settings are records instead (mcp_admission.records): `check` reads those on every start.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from mcp_admission.records import RECORD_CONFIG


class Model(BaseModel):
    """Base of every adapter's settings model: unknown keys are errors, camelCase keys, immutable."""

    model_config = ConfigDict(**RECORD_CONFIG, frozen=True)
