"""The record every policy module exports as POLICY, so the engine, docs and CLI list them alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from mcp_admission.policies.engine.model import Outcome, Phase, Request
from mcp_admission.policies.engine.settings import PolicySettings
from mcp_admission.policies.engine.workloads import Workload

S = TypeVar("S", bound=PolicySettings)


@dataclass(frozen=True, slots=True)
class Policy(Generic[S]):
    id: str  # stable: configuration key, opt-out annotation, warning prefix, SARIF rule ID
    summary: str  # one line, for --help, docs and SARIF
    phase: Phase
    kinds: frozenset[str]  # the workload kinds it reads
    operations: frozenset[str]
    evaluate: Callable[[Request, Workload, S], Outcome]  # given this policy's own settings
    settings: type[S]  # its section under `policies:` in the configuration file

    @property
    def field(self) -> str:
        """The attribute of its settings in the configuration's `policies` (the ID is the YAML key)."""
        return self.id.replace("-", "_")


def int_field(value: object) -> int | None:
    """An integer field's value; None for absent or ill-typed ones (JSON booleans are not numbers)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
