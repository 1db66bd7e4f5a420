"""A running Reconciler as the reconciler's and the owners' cluster tests drive it."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry

from mcp_admission.reconciler.controller import Reconciler


class Running:
    """A started Reconciler and its own metrics registry (several may run in one process)."""

    def __init__(self, reconciler: Reconciler, registry: CollectorRegistry) -> None:
        self.reconciler = reconciler
        self.registry = registry

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(f"mcp_admission_reconciler_{name}", labels) or 0.0

    def settle(self) -> None:
        """Resync everything and wait until the queue has drained (no timing is asserted)."""
        self.reconciler.resync()
        assert self.reconciler.queue.wait_idle(60), "the work queue did not drain"


Start = Callable[..., Running]  # the start_reconciler fixture
