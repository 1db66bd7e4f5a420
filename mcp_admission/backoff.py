"""The retry delays of every Kubernetes client loop (reconciler queue and watches, certificates)."""

from __future__ import annotations

import random
import time


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait before retry `attempt`: exponential with full jitter, uniform in
    [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0, min(cap, base * 2 ** min(attempt, 32)))


def pause_before_retry(attempt: int, base: float, attempts: int) -> None:
    """Sleep `backoff` before retry `attempt` of at most `attempts`, so writers that collided do not
    collide again in step; capped at the last retry's range (the cap never narrows a pause)."""
    time.sleep(backoff(attempt, base, base * 2 ** (attempts - 1)))
