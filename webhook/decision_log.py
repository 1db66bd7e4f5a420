"""Decision lines, one per admission request, written without the logging machinery (LogRecord,
caller lookup, formatting): on the hot path that alone cost more than the decision (bench/webhook).
The same line shape as every other log line (mcp_admission.logs).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Any

import orjson

from mcp_admission.logs import timestamp


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
        now = timestamp(time.time()).encode()
        rest = orjson.dumps(fields, default=str)[1:]  # the fields' members and the closing brace
        self._pending.append(b'{"time":"%s",%s,%s' % (now, self._heads[level], rest))

    def _flush(self) -> None:
        lines, self._pending = self._pending, []
        lines.append(b"")
        stream = sys.stderr.buffer
        stream.write(b"\n".join(lines))
        stream.flush()
