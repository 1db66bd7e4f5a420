"""A stand-in for ToolHive's proxy runner, as far as it writes the backend of an MCPServer.

Written from github.com/stacklok/toolhive at e25de16 (2026-08-21), not copied:
pkg/container/kubernetes/client.go `DeployWorkload` (runs at every start of a proxy-runner pod): labels
`app` and `toolhive` added to the container labels (pkg/labels: toolhive-name, toolhive-basename,
toolhive-transport, toolhive-port); `applyStatefulSet` + `buildStatefulSetSpec`: server-side apply as
field manager `toolhive-container-manager` with force, of selector {app: X}, serviceName X (the bare
name, always), the pod template (`configureMCPContainer`: container `mcp`, its port for sse), and
replicas only when backendReplicas is set; then `ensureBackendServices` for sse and streamable-http:
`applyService` of `mcp-X-headless` (clusterIP None) and `mcp-X` (`createMCPService`: ClientIP, 1800 s),
both with the StatefulSet as controller, ports from `createServicePortConfig` (port-N, TCP), same field
manager, force. The generation gate (`skipStatefulSetApply`) never skips here: one runner, no RunConfig
generation.
"""

from __future__ import annotations

from typing import Any

from mcp_admission.kube import APPLY_PATCH, Kube, KubeError

Obj = dict[str, Any]
FIELD_MANAGER = "toolhive-container-manager"  # serviceFieldManager
AFFINITY_TIMEOUT = 1800  # mcpServiceSessionAffinityTimeout
SERVED = ("sse", "streamable-http")  # transportTypeRequiresBackendServices


class RunnerStandIn:
    """One MCPServer's backend, applied the way each proxy-runner start applies it."""

    def __init__(
        self, kube: Kube, namespace: str, name: str, transport: str, backend_replicas: int | None = None
    ) -> None:
        self.kube = kube
        self.namespace, self.name, self.transport = namespace, name, transport
        self.backend_replicas = backend_replicas
        self.port = 8080
        self.applies = 0
        self.restarts = 0  # starts that failed and were tried again (see start)
        self.labels = {
            "toolhive-name": name,
            "toolhive-basename": name,
            "toolhive-transport": transport,
            "toolhive-port": str(self.port),
            "app": name,
            "toolhive": "true",
        }

    def _apply(self, path: str, body: Obj) -> Obj:
        self.applies += 1
        query = (("fieldManager", FIELD_MANAGER), ("force", "true"))
        return self.kube.request("PATCH", path, query, body, APPLY_PATCH)

    def statefulset(self) -> Obj:
        container: Obj = {"name": "mcp", "image": "ghcr.io/example/mcp:1"}
        if self.transport == "sse":
            container["ports"] = [{"containerPort": self.port, "protocol": "TCP"}]
        spec: Obj = {
            "selector": {"matchLabels": {"app": self.name}},
            "serviceName": self.name,
            "template": {
                "metadata": {"labels": dict(self.labels)},
                "spec": {"restartPolicy": "Always", "containers": [container]},
            },
        }
        if self.backend_replicas is not None:
            spec["replicas"] = self.backend_replicas
        return {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": dict(self.labels)},
            "spec": spec,
        }

    def service(self, owner: Obj, headless: bool) -> Obj:
        spec: Obj = {
            "selector": {"app": self.name},
            "ports": [
                {"name": f"port-{self.port}", "port": self.port, "targetPort": self.port, "protocol": "TCP"}
            ],
            "type": "ClusterIP",
        }
        if headless:
            spec["clusterIP"] = "None"
        else:
            spec["sessionAffinity"] = "ClientIP"
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": AFFINITY_TIMEOUT}}
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": f"mcp-{self.name}-headless" if headless else f"mcp-{self.name}",
                "namespace": self.namespace,
                "labels": dict(self.labels),
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "StatefulSet",
                        "name": self.name,
                        "uid": owner["metadata"]["uid"],
                        "blockOwnerDeletion": True,
                        "controller": True,
                    }
                ],
            },
            "spec": spec,
        }

    def deploy(self) -> None:
        """DeployWorkload's writes: the StatefulSet, then (served transports) its two Services."""
        sts = self._apply(
            f"/apis/apps/v1/namespaces/{self.namespace}/statefulsets/{self.name}", self.statefulset()
        )
        if self.transport not in SERVED:
            return
        for headless in (True, False):
            service = self.service(sts, headless)
            self._apply(
                f"/api/v1/namespaces/{self.namespace}/services/{service['metadata']['name']}", service
            )

    def start(self, attempts: int = 3) -> None:
        """A proxy-runner pod's start. DeployWorkload returns any error, the runner exits and the kubelet
        starts it again: a create that races another writer's create of the same Service (409
        AlreadyExists) costs one restart, after which the apply finds the object and updates it."""
        for _ in range(attempts - 1):
            try:
                self.deploy()
                return
            except KubeError as exc:
                if exc.body.get("reason") != "AlreadyExists":
                    raise
                self.restarts += 1
        self.deploy()
