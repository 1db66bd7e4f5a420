"""Objects shaped exactly as ToolHive's operator creates them for an MCPServer (design §3), and one real
example of each ToolHive resource kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mcp_admission.check.defaults import with_server_defaults
from mcp_admission.policies import Operation, Request

# A real manifest of each resource kind, from ToolHive's examples (the `toolhive` fixture's examples/).
EXAMPLES = {
    "MCPServer": "ex-mcp-servers__mcpserver_yardstick_sse.yaml",
    "MCPRemoteProxy": "ex-external-auth__mcpremoteproxy_with_bearer_token.yaml",
    "VirtualMCPServer": "ex-virtual-mcps__vmcp_simple_discovered.yaml",
}

# What the session policies say about a resource at two replicas, as kubectl prints it (docs/policies.md).
NOT_SHARED = "session-storage: spec.replicas 2 without sessionStorage redis: sessions are not shared"
ADVICE = (
    "affinity-with-redis: sessions are in redis: ClientIP pins clients behind a proxy to one pod; "
    "use sessionAffinity None"
)
LOST = (
    "affinity-with-redis: sessionAffinity None, 2 replicas, no redis: "
    "a session's requests reach pods that lack it"
)


def example(toolhive: Path, kind: str, **spec: Any) -> dict[str, Any]:
    """The `kind` document of its example file, read afresh, with `spec` fields set."""
    documents = yaml.safe_load_all((toolhive / "examples" / EXAMPLES[kind]).read_text())
    (doc,) = [d for d in documents if isinstance(d, dict) and d["kind"] == kind]
    doc["spec"].update(spec)
    return doc


def labels(name: str, transport: str, port: int = 8080) -> dict[str, str]:
    return {
        "toolhive": "true",
        "toolhive-name": name,
        "toolhive-basename": name,
        "toolhive-transport": transport,
        "toolhive-port": str(port),
        "app": name,
    }


def backend_statefulset(
    name: str, transport: str = "sse", replicas: int = 1, port: int = 8080
) -> dict[str, Any]:
    """ToolHive's backend StatefulSet today: serviceName is the bare name (no such Service)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": "toolhive-system", "labels": labels(name, transport, port)},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "mcp", "image": "x", "ports": [{"containerPort": port}]}]},
            },
        },
    }


def proxy_deployment(name: str) -> dict[str, Any]:
    """The proxy Deployment `X` (deploymentForMCPServer): ToolHive sets terminationGracePeriodSeconds 30."""
    labels = {
        "app": "mcpserver",
        "app.kubernetes.io/name": "mcpserver",
        "app.kubernetes.io/instance": name,
        "toolhive": "true",
        "toolhive-name": name,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "toolhive-system", "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": f"{name}-proxy-runner",
                    "terminationGracePeriodSeconds": 30,
                    "containers": [{"name": "toolhive", "image": "ghcr.io/stacklok/toolhive/proxyrunner"}],
                },
            },
        },
    }


def proxy_service(name: str) -> dict[str, Any]:
    """The proxy Service `mcp-X-proxy`, labelled like the proxy Deployment."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": f"mcp-{name}-proxy",
            "namespace": "toolhive-system",
            "labels": {
                "app": "mcpserver",
                "app.kubernetes.io/name": "mcpserver",
                "app.kubernetes.io/instance": name,
                "toolhive": "true",
                "toolhive-name": name,
            },
        },
        "spec": {"selector": {"app": "mcpserver"}, "ports": [{"name": "http", "port": 8080}]},
    }


def backend_service(name: str, headless: bool, port: int = 8080) -> dict[str, Any]:
    """`mcp-X` or `mcp-X-headless`, owned by the StatefulSet, no labels of their own."""
    spec: dict[str, Any] = {
        "selector": {"app": name},
        "ports": [{"name": f"port-{port}", "port": port}],
    }
    if headless:
        spec["clusterIP"] = "None"
    owner = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "name": name,
        "uid": "0b9c5a2e-1111-2222-3333-444455556666",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": f"mcp-{name}-headless" if headless else f"mcp-{name}",
            "namespace": "toolhive-system",
            "ownerReferences": [owner],
        },
        "spec": spec,
    }


def request_for(obj: dict[str, Any], operation: Operation = Operation.CREATE, old: Any = None) -> Request:
    """An AdmissionRequest for a raw manifest, after the apiserver's defaulting (as the webhook sees it)."""
    group, _, version = obj["apiVersion"].rpartition("/")
    meta = obj.get("metadata") or {}
    defaulted = with_server_defaults(group, obj["kind"], obj)
    old_defaulted = with_server_defaults(group, obj["kind"], old) if old is not None else None
    return Request(
        group=group,
        version=version,
        kind=obj["kind"],
        operation=operation,
        namespace=meta.get("namespace", "default"),
        name=meta.get("name", ""),
        object=defaulted,
        old_object=old_defaulted,
    )


def mcpserver_like(kind: str, name: str) -> dict[str, Any]:
    """A ToolHive custom resource of `kind` (MCPServer, MCPRemoteProxy, VirtualMCPServer)."""
    specs: dict[str, dict[str, Any]] = {
        "MCPServer": {"image": "ghcr.io/example/mcp:1"},
        "MCPRemoteProxy": {"remoteUrl": "https://mcp.example.com"},
        "VirtualMCPServer": {"groupRef": {"name": "group"}},
    }
    spec = specs[kind]
    return {
        "apiVersion": "toolhive.stacklok.dev/v1beta1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "team"},
        "spec": dict(spec),
    }
