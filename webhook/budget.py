"""A budget for request bodies being read, across connections (issue 23).

Each connection may send up to `maxBodyBytes`; hundreds of them at once would not fit in the pod. When a
request's head is complete, its body reserves its declared length (the apiserver always sends one; a
chunked body reserves the maximum) until it has been read. When the budget is spent, the body that has
been reading longest is cut (503, connection closed) to make room: an apiserver's body arrives in
milliseconds, a client that keeps a reservation by sending slowly is the one that goes. Reserving in the
protocol, before the application reads, also bounds what uvicorn and TLS buffer for a body nobody reads
yet. One reservation never exceeds the budget (WebhookSettings: maxInflightBodyBytes ≥ maxBodyBytes).
"""

from __future__ import annotations

from typing import Protocol


class Reader(Protocol):
    def cut_body(self) -> None:
        """Stop reading this body: answer 503 if nothing was answered yet, and close the connection."""


class BodyBudget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.readers: dict[Reader, int] = {}  # reserved bytes, oldest reader first

    def reserve(self, reader: Reader, size: int) -> None:
        """`size` bytes for `reader`, cutting the oldest readers when the budget is spent."""
        self.release(reader)
        size = min(size, self.limit)
        while self.used + size > self.limit and self.readers:
            oldest = next(iter(self.readers))
            self.release(oldest)
            oldest.cut_body()
        self.readers[reader] = size
        self.used += size

    def release(self, reader: Reader) -> None:
        self.used -= self.readers.pop(reader, 0)
