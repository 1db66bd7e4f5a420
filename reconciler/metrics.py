"""The reconciler's Prometheus metrics, on the registry the caller gives (mcp_admission.metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

PREFIX = "mcp_admission_reconciler_"


class ReconcilerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.reconciles = Counter(
            PREFIX + "reconciles",
            "StatefulSets reconciled, by result (ok, error).",
            ["result"],
            registry=registry,
        )
        self.writes = Counter(
            PREFIX + "writes",
            "Mutating requests sent for reconciled objects, by kind.",
            ["kind"],
            registry=registry,
        )
        self.conflicts = Counter(
            PREFIX + "conflicts", "Apply conflicts with another field manager, left alone.", registry=registry
        )
        self.errors = Counter(PREFIX + "errors", "Failed API requests and watches.", registry=registry)
        self.queue_depth = Gauge(
            PREFIX + "queue_depth", "StatefulSet keys waiting in the work queue.", registry=registry
        )
        self.is_leader = Gauge(
            PREFIX + "is_leader", "1 while this replica holds the leader lease.", registry=registry
        )
