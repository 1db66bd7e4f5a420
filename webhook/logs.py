"""Structured logs: one JSON object per line on stderr, for every logger (uvicorn's included).

Decision lines, one per admission request, skip the logging machinery (LogRecord, caller lookup,
formatting): on the hot path that alone cost more than the decision. Same line shape either way.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

import orjson

_second = -1
_second_text = ""
# ".000+00:00" to ".999+00:00": a lookup instead of integer formatting on every line, which measured
# ~6 us per line when the CPU caches are cold, as they are between requests under load (bench/README).
_MILLISECONDS = tuple(f".{ms:03d}+00:00" for ms in range(1000))


def _timestamp(now: float) -> str:
    """ISO 8601 UTC with milliseconds; the part down to the second is made once per second."""
    global _second, _second_text
    second = int(now)
    if second != _second:
        _second, _second_text = second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return _second_text + _MILLISECONDS[int((now - second) * 1000)]


def _line(now: float, level: str, logger: str, message: str, fields: dict[str, Any] | None) -> bytes:
    entry: dict[str, Any] = {"time": _timestamp(now), "level": level, "logger": logger, "message": message}
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
        line = _line(record.created, record.levelname.lower(), record.name, record.getMessage(), fields)
        return line.decode()


class DecisionLog:
    """One line per decision under `logger`'s name, at the level the caller gives.

    Called from the event loop. The lines of one loop iteration go out in one write at its end: under
    load that is one system call for many requests, and a line is never later than the answer's bytes.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self._pending: list[bytes] = []
        # What follows the time on every line of a level: the same keys, in the same order, as
        # JSONFormatter writes, made once instead of per line.
        self._heads = {
            level: orjson.dumps({"level": name.lower(), "logger": logger.name, "message": "decision"})[1:-1]
            for level, name in ((logging.DEBUG, "DEBUG"), (logging.INFO, "INFO"))
        }

    def enabled(self, level: int) -> bool:
        return self.logger.isEnabledFor(level)

    def write(self, level: int, fields: dict[str, Any]) -> None:
        """Queue one line at DEBUG or INFO; `fields` must not be empty. Callers check `enabled(level)`
        first so they don't build `fields` in vain."""
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        now = _timestamp(time.time()).encode()
        rest = orjson.dumps(fields, default=str)[1:]  # the fields' members and the closing brace
        self._pending.append(b'{"time":"%s",%s,%s' % (now, self._heads[level], rest))

    def _flush(self) -> None:
        lines, self._pending = self._pending, []
        lines.append(b"")
        stream = sys.stderr.buffer
        stream.write(b"\n".join(lines))
        stream.flush()


def configure(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
