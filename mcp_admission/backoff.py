"""The one retry delay of every Kubernetes client loop (reconciler queue and watches, certificates)."""

from __future__ import annotations

import random


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0, min(cap, base * 2 ** min(attempt, 32)))
