"""Fixtures for the reconciler's cluster tests: a client, throwaway namespaces, running reconcilers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from mcp_admission.kube import Kube, api_client
from mcp_admission.policies import PolicyConfig
from mcp_admission.reconciler.controller import Reconciler
from mcp_admission.reconciler.metrics import ReconcilerMetrics
from mcp_admission.reconciler.settings import ReconcilerSettings
from tests.support.kube import create_namespace, delete_namespace
from tests.support.reconciler import Running, Start

from ..conftest import ControlPlane


@pytest.fixture(scope="session")
def kube(control_plane: ControlPlane) -> Kube:
    return Kube(api_client(str(control_plane.kubeconfig)))


@pytest.fixture
def namespace(kube: Kube) -> Iterator[str]:
    name = create_namespace(kube, "rec")
    yield name
    delete_namespace(kube, name)


@pytest.fixture
def start_reconciler(request: pytest.FixtureRequest) -> Iterator[Start]:
    started: list[Reconciler] = []

    def start(*namespaces: str, policy: PolicyConfig | None = None, client: Kube | None = None) -> Running:
        registry = CollectorRegistry()
        reconciler = Reconciler(
            # the shared plane's client only when asked: tests of a plane of their own do not start it
            client or request.getfixturevalue("kube"),
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
