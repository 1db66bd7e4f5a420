"""The engine's plain data: what an admission request carries in, what a decision carries out.

NamedTuples, not pydantic nor frozen dataclasses: they are built on every request of the webhook's hot
path, and a frozen dataclass of ten fields alone cost more than deciding a non-MCP object.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple

JSON = Any  # a decoded JSON value: dict, list, str, int, float, bool or None
PatchOp = dict[str, Any]  # one RFC 6902 operation: {"op": ..., "path": ..., "value": ...}


def mapping(value: JSON) -> dict[str, Any]:
    """The value if it is a JSON object, else an empty one: policies never trust a field's type."""
    return value if isinstance(value, dict) else {}


def text(value: JSON) -> str | None:
    """The value if it is a string: labels, kinds and names from an object can be any JSON."""
    return value if isinstance(value, str) else None


class Operation(StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    CONNECT = "CONNECT"


class Phase(StrEnum):
    """Where a policy runs: the mutating webhook (may patch) or the validating one (may only warn/deny)."""

    MUTATE = "mutate"
    VALIDATE = "validate"

    @property
    def path(self) -> str:
        """The webhook's URL path for this phase (/mutate, /validate): served there, configured there."""
        return f"/{self.value}"


class Request(NamedTuple):
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


class Finding(NamedTuple):
    """One thing a policy says about an object. `fixed` means its patch already corrects it."""

    policy: str
    message: str
    fixed: bool = False


class Outcome(NamedTuple):
    """What one policy returns: patch operations and findings about the object it was given."""

    patch: tuple[PatchOp, ...] = ()
    findings: tuple[Finding, ...] = ()


NO_OUTCOME = Outcome()


class PolicyError(NamedTuple):
    """A policy raised: contained by the engine, reported by whoever called it."""

    policy: str
    error: str


class Decision(NamedTuple):
    """The engine's answer: a JSON Patch, warnings, at most one denial, and contained policy errors."""

    patch: tuple[PatchOp, ...] = ()
    warnings: tuple[Finding, ...] = ()
    denial: Finding | None = None
    errors: tuple[PolicyError, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.denial is None


ALLOW = Decision()
