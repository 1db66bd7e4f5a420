"""Fixtures for the reconciler's cluster tests: a client, throwaway namespaces, running reconcilers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from prometheus_client import CollectorRegistry

from mcp_admission.kube import Kube, api_client
from mcp_admission.policies import PolicyConfig
from mcp_admission.reconciler.controller import Reconciler
from mcp_admission.reconciler.metrics import ReconcilerMetrics
from mcp_admission.reconciler.settings import ReconcilerSettings

from ..conftest import ControlPlane
from .kubehelp import create_namespace, delete_namespace


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


@pytest.fixture(scope="session")
def kube(control_plane: ControlPlane) -> Kube:
    return Kube(api_client(str(control_plane.kubeconfig)))


@pytest.fixture
def namespace(kube: Kube) -> Iterator[str]:
    name = create_namespace(kube, "rec")
    yield name
    delete_namespace(kube, name)


@pytest.fixture
def start_reconciler(kube: Kube) -> Iterator[Start]:
    started: list[Reconciler] = []

    def start(*namespaces: str, policy: PolicyConfig | None = None, client: Kube | None = None) -> Running:
        registry = CollectorRegistry()
        reconciler = Reconciler(
            client or kube,
            policy or PolicyConfig(),
            ReconcilerSettings(),
            ReconcilerMetrics(registry),
            namespaces,
        )
        started.append(reconciler)
        reconciler.start()
        assert reconciler.wait_synced(30)
        return Running(reconciler, registry)

    yield start
    for reconciler in started:
        reconciler.stop()
