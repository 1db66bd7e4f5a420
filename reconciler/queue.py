"""A work queue of object keys ("namespace/name"), as client-go's: deduplicated, one worker per key.

A key added while queued is not added twice; a key added while a worker holds it is run again after.
Failed keys come back after an exponential backoff with jitter, reset when they succeed.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Callable

from mcp_admission.backoff import backoff


class WorkQueue:
    def __init__(
        self, on_depth: Callable[[int], None], base_delay: float = 0.05, max_delay: float = 60
    ) -> None:
        self._on_depth = on_depth
        self._base, self._cap = base_delay, max_delay
        self._cond = threading.Condition()
        self._queue: deque[str] = deque()
        self._queued: set[str] = set()
        self._active: set[str] = set()
        self._dirty: set[str] = set()  # added while active: run again when done
        self._delayed: list[tuple[float, str]] = []
        self._failures: dict[str, int] = {}
        self._closed = False

    def _depth_changed(self) -> None:
        self._on_depth(len(self._queue))

    def _enqueue(self, key: str) -> bool:
        """Queue `key` once; a key being worked on is marked to run again when its worker is done.
        True when the queue grew."""
        if key in self._active:
            self._dirty.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.append(key)
            return True
        return False

    def add(self, key: str) -> None:
        with self._cond:
            if self._enqueue(key):  # a key already waiting wakes nobody (a relist adds every key)
                self._depth_changed()
                self._cond.notify_all()

    def retry_later(self, key: str) -> None:
        """Run `key` again after a backoff that grows with its consecutive failures."""
        with self._cond:
            attempt = self._failures.get(key, 0)
            self._failures[key] = attempt + 1
            heapq.heappush(self._delayed, (time.monotonic() + backoff(attempt, self._base, self._cap), key))
            self._cond.notify_all()

    def forget(self, key: str) -> None:
        with self._cond:
            self._failures.pop(key, None)

    def _promote_due(self) -> float | None:
        """Move due delayed keys to the queue; seconds until the next one (None: no delayed key)."""
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            _, key = heapq.heappop(self._delayed)
            self._enqueue(key)
        self._depth_changed()
        return self._delayed[0][0] - now if self._delayed else None

    def get(self) -> str | None:
        """The next key (the caller must call done); None once the queue is closed."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                wait = self._promote_due()
                if self._queue:
                    key = self._queue.popleft()
                    self._queued.discard(key)
                    self._active.add(key)
                    self._depth_changed()
                    return key
                self._cond.wait(wait)

    def done(self, key: str) -> None:
        with self._cond:
            self._active.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                self._enqueue(key)  # no longer active, and never queued while it was
                self._depth_changed()
                self._cond.notify_all()
            elif not self._queue and not self._active:
                self._cond.notify_all()  # wake wait_idle

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued or running (delayed retries aside); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._active:
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    return False
                self._cond.wait(left)
            return True

    def pending_retries(self) -> int:
        with self._cond:
            return len(self._delayed)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
