"""The pydantic base of the adapters' settings sections (which settings are records and which models:
mcp_admission.records)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from mcp_admission.records import RECORD_CONFIG


class Model(BaseModel):
    """Base of every adapter's settings model: unknown keys are errors, camelCase keys, immutable."""

    model_config = ConfigDict(**RECORD_CONFIG, frozen=True)
