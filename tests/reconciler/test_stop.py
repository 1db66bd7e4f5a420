"""Stopping the reconciler ends its watches at once: no thread outlives stop(), and stop() does not wait
on them (client-go's reflector ends its watch on its stop channel the same way)."""

from __future__ import annotations

import threading
import time

import pytest
from prometheus_client import CollectorRegistry

from mcp_admission.kube import Kube
from mcp_admission.policies import PolicyConfig
from mcp_admission.reconciler.controller import Reconciler
from mcp_admission.reconciler.informer import Informer, Obj
from mcp_admission.reconciler.metrics import ReconcilerMetrics
from mcp_admission.reconciler.settings import ReconcilerSettings
from tests.support import eventually
from tests.support.kube import converged, create_statefulset, statefulset
from tests.support.reconciler import Start

pytestmark = pytest.mark.cluster

# A bound with a wide margin, not a timing: an informer thread left blocked on its watch made stop() wait
# 5 s for each, 10 s for one namespace.
PROMPT = 4.0


def alive(reconciler: Reconciler) -> list[str]:
    return [thread.name for thread in reconciler.threads if thread.is_alive()]


def test_stop_ends_open_watches_and_every_thread(kube: Kube, namespace: str, start_reconciler: Start) -> None:
    running = start_reconciler(namespace)
    create_statefulset(kube, statefulset("web", namespace))
    # Its Services exist: both watches are open and delivering (the StatefulSet's, then the Services').
    eventually(lambda: converged(kube, namespace, "web"), "Services of web")
    running.settle()
    reconciler = running.reconciler
    assert len(alive(reconciler)) == len(reconciler.threads)
    began = time.monotonic()
    reconciler.stop()
    took = time.monotonic() - began
    assert alive(reconciler) == []
    assert took < PROMPT, f"stop() took {took:.1f}s"


def test_run_once_on_an_empty_namespace_ends_promptly(kube: Kube, namespace: str) -> None:
    reconciler = Reconciler(
        kube, PolicyConfig(), ReconcilerSettings(), ReconcilerMetrics(CollectorRegistry()), (namespace,)
    )
    began = time.monotonic()
    assert reconciler.run_once(60)
    took = time.monotonic() - began
    assert alive(reconciler) == []
    assert took < PROMPT, f"run_once took {took:.1f}s"


def test_a_watch_opened_as_stop_runs_is_closed_at_once(kube: Kube, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    kube.request("POST", path, body={"metadata": {"name": "one"}, "data": {}})
    errors: list[str] = []
    informer: Informer

    def stop_during_relist(_obj: Obj) -> None:  # the relist's callbacks run before its watch opens
        informer.stop()

    informer = Informer(kube, path, stop_during_relist, stop_during_relist, errors.append)
    thread = threading.Thread(target=informer.run, name=f"informer {path}", daemon=True)
    thread.start()
    assert informer.synced.wait(30)
    thread.join(PROMPT)
    assert not thread.is_alive(), "the informer runs on a watch opened after stop()"
    assert errors == []
