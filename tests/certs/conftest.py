"""Fixtures for the in-cluster certificate tests on the shared control plane.

Each test gets its own namespace and its own webhook configurations (cluster-scoped, so uniquely named and
labelled). The configurations point at an unused loopback port, fail open (Ignore) and select no namespace,
so they never touch another area's requests.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client, config
from prometheus_client import CollectorRegistry

from mcp_admission.certs.manager import CertManager, EnsureResult
from mcp_admission.certs.metrics import CertMetrics
from mcp_admission.certs.settings import CertSettings
from mcp_admission.kube import Kube, KubeError
from tests.support import free_port

from ..conftest import ControlPlane

Json = dict[str, Any]
KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
_ADMISSION = "/apis/admissionregistration.k8s.io/v1"
PATHS = {
    KINDS[0]: f"{_ADMISSION}/mutatingwebhookconfigurations",
    KINDS[1]: f"{_ADMISSION}/validatingwebhookconfigurations",
}


def new_api_client(plane: ControlPlane) -> client.ApiClient:
    api: client.ApiClient = config.new_client_from_config(config_file=str(plane.kubeconfig))  # type: ignore[no-untyped-call]
    return api


class Cluster:
    """What one test created on the shared control plane, and ways to look at it."""

    def __init__(self, plane: ControlPlane, namespace: str, label: str) -> None:
        self.plane = plane
        self.api = new_api_client(plane)
        self.kube = Kube(self.api)
        self.namespace = namespace
        self.label = label  # value of the label `certs-test` on this test's webhook configurations
        self.configs: list[tuple[str, str]] = []

    @property
    def secrets(self) -> str:
        """The path of this test's Secrets."""
        return f"/api/v1/namespaces/{self.namespace}/secrets"

    def settings(self, **overrides: Any) -> CertSettings:
        values: Json = {
            "namespace": self.namespace,
            "service": "webhook",
            "mutating_webhook_configuration": f"{self.namespace}-m",
            "validating_webhook_configuration": "",
            "webhook_selector": f"certs-test={self.label}",
        }
        return CertSettings(**{**values, **overrides})

    def create_webhook_configuration(
        self, kind: str, name: str, labels: dict[str, str], webhooks: int = 2, *, live_url: str = ""
    ) -> None:
        """Parked by default (unused port, Ignore, no namespace). With `live_url`: calls that URL for
        ConfigMaps created in this test's namespace only, and fails closed, so the apiserver's own TLS
        verification with the injected caBundle decides whether a create succeeds."""
        url = live_url or f"https://127.0.0.1:{free_port()}/"
        selector = {f"certs-test-{'live' if live_url else 'never'}": self.label}
        body: Json = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": kind,
            "metadata": {"name": name, "labels": labels},
            "webhooks": [
                {
                    "name": f"w{i}.{name}.certs-test.mcp-admission.io",
                    "clientConfig": {"url": f"{url}w{i}"},
                    "rules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["configmaps"],
                        }
                    ],
                    "failurePolicy": "Fail" if live_url else "Ignore",
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                    "timeoutSeconds": 5 if live_url else 1,
                    "namespaceSelector": {"matchLabels": selector},
                }
                for i in range(webhooks)
            ],
        }
        self.kube.request("POST", PATHS[kind], body=body)
        self.configs.append((kind, name))

    def webhook_configuration(self, kind: str, name: str) -> Json:
        found = self.kube.get(f"{PATHS[kind]}/{name}")
        assert found is not None, f"{kind} {name} is gone"
        return found

    def secret(self, name: str) -> Json:
        found = self.kube.get(f"{self.secrets}/{name}")
        assert found is not None, f"Secret {self.namespace}/{name} is gone"
        return found

    def versions(self) -> dict[str, str]:
        """resourceVersion of every object the certificates may write: any write of ours changes one.

        Service-account token Secrets are the controller-manager's, made and updated at its own pace:
        never ours, so never compared.
        """
        found = {
            f"{kind}/{name}": self.webhook_configuration(kind, name)["metadata"]["resourceVersion"]
            for kind, name in self.configs
        }
        secrets = self.kube.get(self.secrets) or {}
        for secret in secrets.get("items") or []:
            if secret.get("type") != "kubernetes.io/service-account-token":
                found[f"Secret/{secret['metadata']['name']}"] = secret["metadata"]["resourceVersion"]
        return found

    def cleanup(self) -> None:
        for kind, name in self.configs:
            self.kube.request("DELETE", f"{PATHS[kind]}/{name}")
        self.kube.request("DELETE", f"/api/v1/namespaces/{self.namespace}")


def secret_data(secret: Json, key: str) -> bytes:
    return base64.b64decode(secret["data"][key])


def ca_bundles(cluster: Cluster, kind: str, name: str) -> list[bytes]:
    config = cluster.webhook_configuration(kind, name)
    return [base64.b64decode(w["clientConfig"].get("caBundle") or "") for w in config["webhooks"]]


def ensure(cluster: Cluster, settings: CertSettings | None = None) -> EnsureResult:
    return CertManager(settings or cluster.settings(), cluster.kube, cert_metrics()).ensure_once()


def put_secret(cluster: Cluster, name: str, data: dict[str, bytes], type_: str = "kubernetes.io/tls") -> None:
    """Create or overwrite a Secret, as a user (or an attacker, or a bug) would."""
    body: Json = {
        "metadata": {"name": name},
        "type": type_,
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }
    try:
        cluster.kube.request("POST", cluster.secrets, body=body)
    except KubeError:
        body["metadata"]["resourceVersion"] = cluster.secret(name)["metadata"]["resourceVersion"]
        cluster.kube.request("PUT", f"{cluster.secrets}/{name}", body=body)


@pytest.fixture
def new_cluster(control_plane: ControlPlane) -> Iterator[Callable[[], Cluster]]:
    made: list[Cluster] = []

    def make() -> Cluster:
        label = uuid.uuid4().hex[:10]
        namespace = f"certs-{label}"
        cluster = Cluster(control_plane, namespace, label)
        labels = {"certs-test-live": label}
        cluster.kube.request(
            "POST", "/api/v1/namespaces", body={"metadata": {"name": namespace, "labels": labels}}
        )
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.cleanup()
        cluster.api.close()  # type: ignore[no-untyped-call]


@pytest.fixture
def cluster(new_cluster: Callable[[], Cluster]) -> Cluster:
    return new_cluster()


def cert_metrics(registry: CollectorRegistry | None = None) -> CertMetrics:
    """The certificates' metrics on `registry`, else on one nobody reads."""
    return CertMetrics(registry if registry is not None else CollectorRegistry())
