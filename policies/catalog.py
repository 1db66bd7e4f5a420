"""The policy record every policy module exports, so the engine, docs and CLI list them alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .model import Outcome, Phase, Request
from .settings import PolicyConfig
from .workloads import Workload

Evaluate = Callable[[Request, Workload, PolicyConfig], Outcome]


@dataclass(frozen=True, slots=True)
class Policy:
    id: str  # stable: configuration keys, opt-out annotation, warning prefix, SARIF rule ID
    summary: str  # one line, for --help, docs and SARIF
    phase: Phase
    kinds: frozenset[str]  # the workload kinds it reads
    operations: frozenset[str]
    evaluate: Evaluate


def int_field(value: object) -> int | None:
    """An integer field's value; None for absent or ill-typed ones (JSON booleans are not numbers)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
