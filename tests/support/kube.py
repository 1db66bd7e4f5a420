"""Kubernetes helpers for cluster tests (the reconciler's and its owners'): objects, namespaces, lookups and
what the tests wait for."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from mcp_admission.kube import MERGE_PATCH, Kube, KubeError
from mcp_admission.policies import PolicyConfig
from mcp_admission.reconciler.drift import contained
from mcp_admission.reconciler.services import desired_services


def statefulset(
    name: str,
    namespace: str,
    transport: str = "sse",
    replicas: int = 2,
    port: int | None = 8080,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A StatefulSet as ToolHive makes it for MCPServer `name` (design §3)."""
    labels = {
        "toolhive": "true",
        "toolhive-name": name,
        "toolhive-basename": name,
        "toolhive-transport": transport,
        "app": name,
    }
    if port is not None:
        labels["toolhive-port"] = str(port)
    container: dict[str, Any] = {"name": "mcp", "image": "example.invalid/mcp:1"}
    if port is not None:
        container["ports"] = [{"containerPort": port}]
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations or {},
        },
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
        },
    }


def create_namespace(kube: Kube, prefix: str, labels: dict[str, str] | None = None) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": name, "labels": labels or {}}})
    return name


def delete_namespace(kube: Kube, name: str) -> None:
    with contextlib.suppress(KubeError):  # already gone
        kube.request("DELETE", f"/api/v1/namespaces/{name}")


def create_statefulset(kube: Kube, manifest: dict[str, Any]) -> dict[str, Any]:
    ns = manifest["metadata"]["namespace"]
    return kube.request("POST", f"/apis/apps/v1/namespaces/{ns}/statefulsets", body=manifest)


def sts_path(ns: str, name: str) -> str:
    return f"/apis/apps/v1/namespaces/{ns}/statefulsets/{name}"


def patch_statefulset(kube: Kube, ns: str, name: str, metadata: dict[str, Any]) -> None:
    kube.request("PATCH", sts_path(ns, name), body={"metadata": metadata}, content_type=MERGE_PATCH)


def service(kube: Kube, namespace: str, name: str) -> dict[str, Any] | None:
    return kube.get(f"/api/v1/namespaces/{namespace}/services/{name}")


def gone(kube: Kube, ns: str, *names: str) -> bool:
    return all(service(kube, ns, name) is None for name in names)


def converged(kube: Kube, ns: str, name: str) -> list[dict[str, Any]] | None:
    """The live Services of StatefulSet `name` when every one is as policy wants, else None."""
    sts = kube.get(sts_path(ns, name))
    if sts is None:
        return None
    lives = []
    for desired in desired_services(sts, PolicyConfig()):
        live = service(kube, ns, desired["metadata"]["name"])
        if live is None or not contained({"metadata": desired["metadata"], "spec": desired["spec"]}, live):
            return None
        lives.append(live)
    return lives or None


def events(kube: Kube, ns: str, reason: str) -> list[dict[str, Any]]:
    items = kube.request("GET", f"/api/v1/namespaces/{ns}/events")["items"]
    return [e for e in items if e.get("reason") == reason]
