"""Settings as frozen dataclasses ("records"), validated by pydantic only where data comes in.

The one place that says which settings are which (the configuration file holds both):
- records (`@record`, this module): the engine's and the policies' settings, and the file as a whole
  (mcp_admission.cli.config.Config): everything `check` reads on every start;
- models (mcp_admission.models.Model, pydantic): the adapters' own sections, `webhook:`, `reconciler:`
  and `certs:`, read only by the commands that run those parts.

Why not pydantic models for the engine: importing pydantic and defining models costs more CPU than all
the rest of a `check` of one file (bench/README.md, cold start), and the engine's settings exist on
every start while a configuration file is read on few. So the engine declares records; pydantic
validates them (types, the markers below, `__post_init__` checks) when `validate` is first called, with
the same rules and error messages as for a model: camelCase keys, unknown keys refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, dataclass_transform

if TYPE_CHECKING:
    from pydantic import ConfigDict, GetCoreSchemaHandler, TypeAdapter
    from pydantic_core import CoreSchema

T = TypeVar("T")


def camel(name: str) -> str:
    """A field's key in the configuration file: timeout_seconds -> timeoutSeconds."""
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


# pydantic's configuration of every record and model (a dict: ConfigDict is a TypedDict).
RECORD_CONFIG: ConfigDict = {"extra": "forbid", "alias_generator": camel, "populate_by_name": True}


@dataclass_transform(kw_only_default=True, frozen_default=True)
def record(cls: type[T]) -> type[T]:
    """A settings record: a frozen, keyword-only dataclass that pydantic validates like a model."""
    if "__pydantic_config__" not in cls.__dict__:
        cls.__pydantic_config__ = RECORD_CONFIG  # type: ignore[attr-defined]
    return dataclasses.dataclass(frozen=True, kw_only=True)(cls)


@dataclasses.dataclass(frozen=True)
class Check:
    """`Annotated[T, Check(f)]`: `f(value)` validates a field (ValueError: an error at that field)."""

    function: Callable[[Any], Any]

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(self.function, handler(source))


@dataclasses.dataclass(frozen=True)
class Bounds:
    """`Annotated[int, Bounds(ge=1, le=60)]`: pydantic's own range check, messages and JSON schema."""

    gt: int | None = None
    ge: int | None = None
    le: int | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        limits = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        return {**handler(source), **limits}


_adapters: dict[type, Any] = {}  # one per type: building one takes milliseconds


def adapter(cls: type[T]) -> TypeAdapter[T]:
    found: TypeAdapter[T] | None = _adapters.get(cls)
    if found is None:
        from pydantic import TypeAdapter

        found = _adapters[cls] = TypeAdapter(cls)
    return found


def validate(cls: type[T], data: object) -> T:
    """`cls` (a record, a pydantic model or any type pydantic knows) from `data`; pydantic's
    ValidationError when it does not fit."""
    return adapter(cls).validate_python(data)
