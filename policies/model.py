"""The engine's plain data: what an admission request carries in, what a decision carries out.

Plain frozen dataclasses, not pydantic: they are built on every request of the webhook's hot path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

JSON = Any  # a decoded JSON value: dict, list, str, int, float, bool or None
PatchOp = dict[str, Any]  # one RFC 6902 operation: {"op": ..., "path": ..., "value": ...}


class Operation(StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    CONNECT = "CONNECT"


class Phase(StrEnum):
    """Where a policy runs: the mutating webhook (may patch) or the validating one (may only warn/deny)."""

    MUTATE = "mutate"
    VALIDATE = "validate"


@dataclass(frozen=True, slots=True)
class Request:
    """What an AdmissionRequest carries that the policies may read."""

    group: str
    version: str
    kind: str
    operation: Operation
    namespace: str
    name: str
    object: JSON
    old_object: JSON = None
    dry_run: bool = False
    sub_resource: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a policy says about an object. `fixed` means its patch already corrects it."""

    policy: str
    message: str
    fixed: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one policy returns: patch operations and findings about the object it was given."""

    patch: tuple[PatchOp, ...] = ()
    findings: tuple[Finding, ...] = ()


NO_OUTCOME = Outcome()


@dataclass(frozen=True, slots=True)
class PolicyError:
    """A policy raised: contained by the engine, reported by whoever called it."""

    policy: str
    error: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The engine's answer: a JSON Patch, warnings, at most one denial, and contained policy errors."""

    patch: tuple[PatchOp, ...] = ()
    warnings: tuple[Finding, ...] = ()
    denial: Finding | None = None
    errors: tuple[PolicyError, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return self.denial is None


ALLOW = Decision()
