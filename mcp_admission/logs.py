"""Structured logs, the same for every command that runs (serve, reconcile, certs): one JSON object
per line on stderr, for every logger (uvicorn's and the kubernetes client's included), with `time`,
`level`, `logger`, `message`, then the record's fields. One level flag and variable for all of them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from . import environment
from .configfile import ConfigError

_second = -1
_second_text = ""
# ".000+00:00" to ".999+00:00": a lookup instead of integer formatting on every line, which measured
# ~6 us per line when the CPU caches are cold, as they are between requests under load (bench/README).
_MILLISECONDS = tuple(f".{ms:03d}+00:00" for ms in range(1000))


def timestamp(now: float) -> str:
    """ISO 8601 UTC with milliseconds; the part down to the second is made once per second."""
    global _second, _second_text
    second = int(now)
    if second != _second:
        _second, _second_text = second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return _second_text + _MILLISECONDS[int((now - second) * 1000)]


def _line(now: float, level: str, logger: str, message: str, fields: dict[str, Any] | None) -> bytes:
    entry: dict[str, Any] = {"time": timestamp(now), "level": level, "logger": logger, "message": message}
    if fields:
        entry.update(fields)
    return orjson.dumps(entry, default=str)


class JSONFormatter(logging.Formatter):
    """time, level, logger, message, then the record's `fields` (pass them as extra={"fields": {...}})."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        fields = dict(fields) if isinstance(fields, dict) else {}
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        text = _line(record.created, record.levelname.lower(), record.name, record.getMessage(), fields)
        return text.decode()


LEVELS = ("debug", "info", "warning", "error")
LEVEL_ENV = environment.LOG_LEVEL


def add_level_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-level", choices=LEVELS, help=f"(env {LEVEL_ENV}, default info)")


def level_from(flag: str | None, environ: Mapping[str, str]) -> str:
    """--log-level, else $MCP_ADMISSION_LOG_LEVEL, else info; argparse checks only the flag's value."""
    if flag is not None:
        return flag
    level = (environ.get(LEVEL_ENV) or "info").lower()
    if level not in LEVELS:
        raise ConfigError(f"{LEVEL_ENV}: must be one of {', '.join(LEVELS)}")
    return level


def configure(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
