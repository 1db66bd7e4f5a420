"""The configuration file as data: YAML read and validated into a model, every problem a ConfigError
naming the file and the key (or the flag or variable an override came from).

Which model the file holds is the CLI's to say (mcp_admission.cli.config): each part declares its own
section, so this bottom layer knows none of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import yaml

from mcp_admission import environment
from mcp_admission.records import validate

if TYPE_CHECKING:  # pydantic is imported only when a file is validated (`check`'s start-up: records)
    from pydantic import BaseModel, ValidationError

CONFIG_ENV = environment.CONFIG

M = TypeVar("M", bound="BaseModel")
T = TypeVar("T")
# pydantic words an unknown key one way for models and another for dataclasses (the engine's records).
_UNKNOWN_KEY = frozenset({"extra_forbidden", "unexpected_keyword_argument"})


class ConfigError(Exception):
    """A configuration that cannot be used; the message is for the user as it is."""


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _problems(exc: ValidationError, where: Callable[[tuple[int | str, ...]], str]) -> str:
    """Each of pydantic's errors as "<where>: <message>", one line."""
    return "; ".join(
        f"{where(e['loc'])}: {'unknown setting' if e['type'] in _UNKNOWN_KEY else e['msg']}"
        for e in exc.errors()
    )


def _named(loc: tuple[int | str, ...], names: Mapping[str, str]) -> str:
    return names.get(str(loc[0]), _location(loc)) if loc else _location(loc)


def with_overrides(section: M, overrides: Mapping[str, object], names: Mapping[str, str]) -> M:
    """`section` with `overrides` (field → value; None: not given) on top, validated again.

    A bad value raises ConfigError naming where it came from, `names[field]` (a flag or variable),
    so the user is pointed at what they typed rather than at the file.
    """
    from pydantic import ValidationError

    given = {field: value for field, value in overrides.items() if value is not None}
    try:
        return section.model_validate({**section.model_dump(), **given})
    except ValidationError as exc:
        raise ConfigError(_problems(exc, lambda loc: _named(loc, names))) from None


def config_file(path: str | os.PathLike[str] | None = None) -> str | os.PathLike[str] | None:
    """The configuration file to read: `path`, else $MCP_ADMISSION_CONFIG; None: none (the defaults)."""
    return path or os.environ.get(CONFIG_ENV) or None


def read_config(model: type[T], path: str | os.PathLike[str] | None = None) -> T:
    """`model` (a record or a pydantic model) from the file at `path`, else $MCP_ADMISSION_CONFIG,
    else its defaults."""
    path = config_file(path)
    if path is None:
        return model()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}{where}: not valid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the configuration must be a mapping, not {type(data).__name__}")
    from pydantic import ValidationError

    try:
        return validate(model, data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid configuration: {_problems(exc, _location)}") from None
