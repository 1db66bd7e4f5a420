"""Structured logs, the same for every command that runs (serve, reconcile, certs): one JSON object
per line on stderr, for every logger (uvicorn's and the kubernetes client's included), with `time`,
`level`, `logger`, `message`, then the record's fields.
Fields come from `extra={"fields": {...}}`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson


def timestamp(now: float) -> str:
    """ISO 8601 UTC with milliseconds, as every line carries it."""
    return datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")


def line(now: float, level: str, logger: str, message: str, fields: Mapping[str, Any] | None) -> bytes:
    """One log line (no newline): the keys every line has, in this order, then `fields`."""
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
        return line(
            record.created, record.levelname.lower(), record.name, record.getMessage(), fields
        ).decode()


def configure(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
