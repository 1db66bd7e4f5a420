"""Structured logs, the same for every command that runs (serve, reconcile, certs): one JSON object
per line on stderr, for every logger (uvicorn's and the kubernetes client's included), with `time`,
`level`, `logger`, `message`, then the record's fields.

Fields come from `extra={"fields": {...}}`, or from an `ObjectLog`: the logger of one Kubernetes object
(kopf's way), whose `kind`, `namespace` and `name` go on every line it writes, so JSON logs can be
filtered by object instead of by parsing messages.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any

import orjson

_second = -1
_second_text = ""


def timestamp(now: float) -> str:
    """ISO 8601 UTC with milliseconds, as every line carries it.

    The part down to the second is made once per second: formatting a datetime for every line costs
    about four times as much (bench/README.md, webhook load).
    """
    global _second, _second_text
    second = int(now)
    if second != _second:
        _second, _second_text = second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{_second_text}.{int((now - second) * 1000):03d}+00:00"


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


class ObjectLog(logging.LoggerAdapter[logging.Logger]):
    """`logger` for one object: its `kind`, `namespace` and `name` are fields of every line.

    Fields a call passes (`extra={"fields": ...}`) are added to the object's.
    """

    def __init__(self, logger: logging.Logger, kind: str, namespace: str, name: str) -> None:
        super().__init__(logger)
        self.fields = {"kind": kind, "namespace": namespace, "name": name}

    @classmethod
    def for_key(cls, logger: logging.Logger, kind: str, key: str) -> ObjectLog:
        """The logger of the object whose key is "namespace/name" (or "name": cluster-scoped)."""
        namespace, _, name = key.rpartition("/")
        return cls(logger, kind, namespace, name)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra = kwargs.get("extra") or {}
        kwargs["extra"] = {**extra, "fields": {**self.fields, **(extra.get("fields") or {})}}
        return msg, kwargs


def configure(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
