"""One control plane for the owner tests: ToolHive's CRDs, our real webhook registered as the shipped
configurations register it, and our real reconciler; and the write counters of both, read as
Prometheus would read them.

The webhook is the in-thread server of tests/webhook/support.py (uvicorn, TLS on 127.0.0.1), registered
by URL with its CA in caBundle and otherwise as shipped for this apiserver's version (SHIPPED), except
failurePolicy Fail: a webhook the apiserver does not reach must fail these tests, not pass them.
On the session's control plane: the webhook configurations are named for this package and sent only
its namespaces (OWNERS_LABEL), and they and the cluster-wide reconciler are gone when the package ends
(its namespaces are deleted, not waited for: tests/support/namespaces.py).
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from mcp_admission.kube import Kube, api_client
from mcp_admission.policies import PolicyConfig
from mcp_admission.reconciler.controller import Reconciler
from mcp_admission.reconciler.metrics import ReconcilerMetrics
from mcp_admission.reconciler.settings import ReconcilerSettings
from tests.conftest import ControlPlane
from tests.e2e.harness import DEPLOY, Kubectl
from tests.support import eventually
from tests.support.kube import create_namespace, sts_path
from tests.support.namespaces import none_terminating
from tests.support.reconciler import Running
from tests.webhook.support import Served, make_tls, serving

Counts = dict[str, float]
SHIPPED = DEPLOY / "components" / "legacy" / "webhooks.yaml"  # the configurations for Kubernetes 1.20-1.29
OWNERS_LABEL = ("tests.mcp-admission.io/package", "owners")  # on this package's namespaces


def samples(text: str, name: str, label: str) -> Counts:
    """One counter's samples from a Prometheus text exposition, by the value of one label."""
    return {
        sample.labels.get(label, ""): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


@dataclass
class Owners:
    kube: Kube
    kubectl: Kubectl
    webhook: Served
    reconciler: Running

    def namespace(self) -> str:
        return create_namespace(self.kube, "own", labels=dict([OWNERS_LABEL]))

    def _metrics(self) -> str:
        return httpx.get(self.webhook.metrics_url, timeout=10).text

    def webhook_patches(self) -> Counts:
        """mcp_admission_patches_total by policy: every object our webhook patched."""
        return samples(self._metrics(), "mcp_admission_patches_total", "policy")

    def webhook_requests(self, kind: str) -> float:
        """Admission requests our webhook answered for one kind (proof the apiserver does call it)."""
        text = self._metrics()
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "mcp_admission_requests_total" and sample.labels.get("kind") == kind
        )

    def reconciler_writes(self) -> Counts:
        """mcp_admission_reconciler_writes_total by kind: every write our reconciler sent."""
        return {
            kind: self.reconciler.metric("writes_total", kind=kind)
            for kind in ("Service", "StatefulSet", "Event")
        }

    def ours(self) -> tuple[Counts, Counts]:
        """Both parts' write counters, to compare before and after."""
        return self.webhook_patches(), self.reconciler_writes()

    def quiet_statefulset(self, namespace: str, name: str) -> dict[str, Any]:
        """Wait until the reconciler has seen the StatefulSet as it is and done all it will do about it
        (its cache holds the live resourceVersion, its queue is idle, and that changed nothing)."""
        path = sts_path(namespace, name)
        key = f"{namespace}/{name}"

        def caught_up() -> str | None:
            """The live resourceVersion once the reconciler's cache holds it (the controller-manager may
            move it on meanwhile: then the next one)."""
            live = self.kube.get(path)
            assert live is not None, path
            # The cache is the reconciler's own view: no public accessor, none needed elsewhere.
            cached = self.reconciler.reconciler._cached_statefulset(key) or {"metadata": {}}
            version: str = live["metadata"]["resourceVersion"]
            return version if cached["metadata"].get("resourceVersion") == version else None

        for _ in range(10):
            version = eventually(caught_up, f"the reconciler to see {key} as it is")
            self.reconciler.settle()
            after = self.kube.get(path)
            if after is not None and after["metadata"]["resourceVersion"] == version:
                return after
        raise AssertionError(f"{key} kept changing while the reconciler worked on it")


def _register(kube: Kube, served: Served) -> list[str]:
    """The shipped webhook configurations, pointed at `served` by URL, failurePolicy Fail, named for this
    package and restricted to its namespaces: the paths of what was created, to delete at the end."""
    ca_bundle = base64.b64encode(served.ca_file.read_bytes()).decode()
    created = []
    for shipped in yaml.safe_load_all(SHIPPED.read_text()):
        config = copy.deepcopy(shipped)
        config["metadata"]["name"] += "-owners-test"
        for hook in config["webhooks"]:
            path = hook["clientConfig"]["service"]["path"]
            hook["clientConfig"] = {"url": served.url + path, "caBundle": ca_bundle}
            hook["failurePolicy"] = "Fail"
            key, value = OWNERS_LABEL
            selector = hook.setdefault("namespaceSelector", {}).setdefault("matchExpressions", [])
            selector.append({"key": key, "operator": "In", "values": [value]})
        resource = config["kind"].lower() + "s"
        collection = f"/apis/admissionregistration.k8s.io/v1/{resource}"
        kube.request("POST", collection, body=config)
        created.append(f"{collection}/{config['metadata']['name']}")
    return created


@pytest.fixture(scope="package")
def owners(
    cluster_wide: ControlPlane, toolhive_crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Owners]:
    kube = Kube(api_client(str(cluster_wide.kubeconfig)))
    kubectl = Kubectl(cluster_wide.kubectl, cluster_wide.kubeconfig)
    with serving(make_tls(tmp_path_factory.mktemp("owners-tls"))) as served:
        registered = _register(kube, served)
        # The tests count every write of a reconciler of every namespace: an earlier package's namespace
        # still being deleted (its Services going before their StatefulSets) would give it some to make.
        none_terminating(kube)
        registry = CollectorRegistry()
        reconciler = Reconciler(kube, PolicyConfig(), ReconcilerSettings(), ReconcilerMetrics(registry), ())
        reconciler.start()
        try:
            assert reconciler.wait_synced(30)
            running = Running(reconciler, registry)
            running.settle()  # done with whatever earlier packages left on the shared plane
            yield Owners(kube, kubectl, served, running)
        finally:
            reconciler.stop()
            # failurePolicy Fail at a server about to stop: gone before it stops, whatever happened.
            for path in registered:
                kube.request("DELETE", path)
            kubectl("delete", "namespace", "-l", "=".join(OWNERS_LABEL), "--wait=false", check=False)
