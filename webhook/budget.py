"""A budget for request bodies being read, across connections (issue 23).

Each connection may send up to `maxBodyBytes`; hundreds of them at once would not fit in the pod. A body
is read only within the budget: it reserves its declared length (the apiserver always sends one; a
chunked body reserves the maximum) and gives it back once read. When the budget is spent, the body that
has been reading longest is cut (its request answers 503 and its connection closes) to make room: an
apiserver's body arrives in milliseconds, a client that keeps a reservation by sending slowly is the one
that goes. One reservation never exceeds the budget (settings check maxInflightBodyBytes ≥ maxBodyBytes).
"""

from __future__ import annotations

import asyncio


class Lease:
    __slots__ = ("budget", "evicted", "size", "task")

    def __init__(self, budget: BodyBudget, task: asyncio.Task[object], size: int) -> None:
        self.budget = budget
        self.task = task
        self.size = size
        self.evicted = False

    def release(self) -> None:
        self.budget.release(self)


class BodyBudget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.leases: dict[Lease, None] = {}  # oldest first (insertion order)
        self.evictions = 0

    def reserve(self, size: int) -> Lease:
        """Room for `size` bytes for the current task, cutting the oldest readers if needed."""
        while self.used + size > self.limit and self.leases:
            oldest = next(iter(self.leases))
            self.release(oldest)
            oldest.evicted = True
            self.evictions += 1
            oldest.task.cancel()  # raised where it awaits its body: see AdmissionHandler
        task = asyncio.current_task()
        assert task is not None
        lease = Lease(self, task, size)
        self.leases[lease] = None
        self.used += size
        return lease

    def release(self, lease: Lease) -> None:
        if lease in self.leases:
            del self.leases[lease]
            self.used -= lease.size
