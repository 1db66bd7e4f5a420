"""Helpers for the reconciler's cluster tests: objects, namespaces, polling (no timing assertions)."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any, TypeVar

from reconciler.kube import Kube, KubeError

T = TypeVar("T")


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


def create_namespace(kube: Kube, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": name}})
    return name


def delete_namespace(kube: Kube, name: str) -> None:
    with contextlib.suppress(KubeError):  # already gone
        kube.request("DELETE", f"/api/v1/namespaces/{name}")


def create_statefulset(kube: Kube, manifest: dict[str, Any]) -> dict[str, Any]:
    ns = manifest["metadata"]["namespace"]
    return kube.request("POST", f"/apis/apps/v1/namespaces/{ns}/statefulsets", body=manifest)


def get(kube: Kube, path: str) -> dict[str, Any] | None:
    try:
        return kube.request("GET", path)
    except KubeError as exc:
        if exc.status == 404:
            return None
        raise


def service(kube: Kube, namespace: str, name: str) -> dict[str, Any] | None:
    return get(kube, f"/api/v1/namespaces/{namespace}/services/{name}")
