"""Manifests the cluster tests apply: what ToolHive creates, what users write, and plain objects."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

IMAGE = "ghcr.io/stackloklabs/yardstick/yardstick-server:1.1.1"  # ToolHive's example server
OPT_IN = {"mcp-admission.io/workload": "true"}


def service(name: str, labels: dict[str, str] | None = None) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 8080}]},
    }


def configmap(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "b"}}


def statefulset(
    name: str,
    *,
    transport: str | None,
    replicas: int = 1,
    service_name: str | None = None,
    annotations: dict[str, str] | None = None,
) -> Obj:
    """A backend StatefulSet as ToolHive's operator makes it (transport None: not an MCP workload)."""
    labels: dict[str, str] = {"app": name}
    if transport is not None:
        labels |= {
            "toolhive": "true",
            "toolhive-name": name,
            "toolhive-basename": name,
            "toolhive-transport": transport,
            "toolhive-port": "8080",
        }
    metadata: dict[str, Any] = {"name": name, "labels": labels}
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata,
        "spec": {
            "replicas": replicas,
            "serviceName": service_name or name,  # ToolHive's value today: no such Service
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "mcp", "image": IMAGE, "ports": [{"name": "mcp", "containerPort": 8080}]}
                    ]
                },
            },
        },
    }


def mcpserver(
    name: str, *, transport: str | None, replicas: int, redis: bool = False, version: str = "v1beta1"
) -> Obj:
    spec: dict[str, Any] = {"image": IMAGE, "proxyPort": 8080, "replicas": replicas}
    if transport is not None:  # absent: the CRD defaults it to stdio
        spec |= {"transport": transport, "mcpPort": 8080}
    if redis:
        spec["sessionStorage"] = {"provider": "redis", "address": "redis.sessions.svc:6379"}
    return {
        "apiVersion": f"toolhive.stacklok.dev/{version}",
        "kind": "MCPServer",
        "metadata": {"name": name},
        "spec": spec,
    }
