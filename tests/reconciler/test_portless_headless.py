"""A StatefulSet that declares no port still gets pod DNS: the apiserver takes a headless Service
without ports, and the reconciler leaves it at rest (no port list to drift on)."""

from __future__ import annotations

import pytest

from mcp_admission.kube import Kube
from tests.support import eventually
from tests.support.kube import converged, create_statefulset, service, statefulset
from tests.support.reconciler import Start

pytestmark = pytest.mark.cluster


def test_a_statefulset_without_ports_gets_only_its_headless_service(
    kube: Kube, namespace: str, start_reconciler: Start
) -> None:
    running = start_reconciler(namespace)
    create_statefulset(kube, statefulset("bare", namespace, port=None))
    (headless,) = eventually(lambda: converged(kube, namespace, "bare"), "the headless Service of bare")
    assert headless["metadata"]["name"] == "mcp-bare-headless"
    assert headless["spec"]["clusterIP"] == "None" and not headless["spec"].get("ports")
    assert service(kube, namespace, "mcp-bare") is None  # sticky only with a port to serve

    running.settle()
    written = running.metric("writes_total", kind="Service")
    version = headless["metadata"]["resourceVersion"]
    running.settle()
    running.settle()
    assert running.metric("writes_total", kind="Service") == written == 1
    stored = service(kube, namespace, "mcp-bare-headless")
    assert stored is not None and stored["metadata"]["resourceVersion"] == version
