"""A stand-in for ToolHive's operator, as far as it writes the proxy Service of each resource.

Written from github.com/stacklok/toolhive at e25de16 (2026-08-21), not copied:

- MCPServer: cmd/thv-operator/controllers/mcpserver_controller.go, `Reconcile` (the proxy Service part:
  Get, Create when missing and requeue, else Update when `serviceNeedsUpdate` and requeue),
  `serviceForMCPServer`, `serviceNeedsUpdate`, `labelsForMCPServer`; the name from
  cmd/thv-operator/pkg/controllerutil/resources.go `CreateProxyServiceName` (mcp-X-proxy).
- MCPRemoteProxy: mcpremoteproxy_controller.go `ensureService`, `serviceNeedsUpdate`,
  `labelsForMCPRemoteProxy`, `createProxyServiceName` (mcp-X-remote-proxy); mcpremoteproxy_deployment.go
  `serviceForMCPRemoteProxy`, `buildServiceMetadata`.
- VirtualMCPServer: virtualmcpserver_controller.go `ensureService` (its Update also sets spec.type),
  `serviceNeedsUpdate`, `labelsForVirtualMCPServer`, `vmcpServiceName` (vmcp-X);
  virtualmcpserver_deployment.go `serviceForVirtualMCPServer` (port 4483, `vmcpDefaultPort`) and
  `buildServiceMetadataForVmcp` (no resourceOverrides).

What they share, and what matters here: the Service's sessionAffinity is the resource's
spec.sessionAffinity (ClientIP when empty); every reconcile compares the live Service with the resource
(port, affinity, VirtualMCPServer's type, and labels/annotations as subsets) and, when they differ,
sets those fields on the object it read and Updates it (a PUT of the whole object, as controller-runtime's
client.Update does). Labels and annotations are merged with the operator's values winning
(controllerutil.MergeLabels/MergeAnnotations).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcp_admission.kube import Kube

Obj = dict[str, Any]
GROUP_VERSION = "toolhive.stacklok.dev/v1beta1"


@dataclass(frozen=True)
class ProxyService:
    """How the operator names, labels and ports the proxy Service of one kind of resource."""

    kind: str
    plural: str
    app: str  # the `app` and app.kubernetes.io/name label values
    service_name: Callable[[str], str]
    port: Callable[[Obj], int]
    overrides: bool  # spec.resourceOverrides.proxyService exists (not on VirtualMCPServer)
    typed: bool  # VirtualMCPServer: spec.serviceType is compared and set too


def _proxy_port(spec: Obj) -> int:
    # GetProxyPort (api/v1beta1 mcpserver_types.go, mcpremoteproxy_types.go): 8080 unless set.
    port = spec.get("proxyPort")
    return port if isinstance(port, int) and port > 0 else 8080


KINDS = {
    "MCPServer": ProxyService(
        "MCPServer", "mcpservers", "mcpserver", lambda n: f"mcp-{n}-proxy", _proxy_port, True, False
    ),
    "MCPRemoteProxy": ProxyService(
        "MCPRemoteProxy",
        "mcpremoteproxies",
        "mcpremoteproxy",
        lambda n: f"mcp-{n}-remote-proxy",
        _proxy_port,
        True,
        False,
    ),
    "VirtualMCPServer": ProxyService(
        "VirtualMCPServer",
        "virtualmcpservers",
        "virtualmcpserver",
        lambda n: f"vmcp-{n}",
        lambda _: 4483,
        False,
        True,
    ),
}


def resource_path(kind: str, namespace: str, name: str) -> str:
    return f"/apis/{GROUP_VERSION}/namespaces/{namespace}/{KINDS[kind].plural}/{name}"


class OperatorStandIn:
    """One kind's proxy-Service reconcile; counts the writes it makes."""

    def __init__(self, kube: Kube, kind: str) -> None:
        self.kube = kube
        self.of = KINDS[kind]
        self.creates = 0
        self.updates = 0

    # -- what the operator wants (serviceFor...) ----------------------------------------------------
    def _labels(self, name: str) -> dict[str, str]:
        app = self.of.app
        return {
            "app": app,
            "app.kubernetes.io/name": app,
            "app.kubernetes.io/instance": name,
            "toolhive": "true",
            "toolhive-name": name,
        }

    def _overrides(self, spec: Obj) -> tuple[dict[str, str], dict[str, str]]:
        """Extra labels and annotations from spec.resourceOverrides.proxyService."""
        proxy = ((spec.get("resourceOverrides") or {}).get("proxyService") or {}) if self.of.overrides else {}
        return dict(proxy.get("labels") or {}), dict(proxy.get("annotations") or {})

    @staticmethod
    def affinity(spec: Obj) -> str:
        return str(spec.get("sessionAffinity") or "ClientIP")

    def _type(self, spec: Obj) -> str:
        return str(spec.get("serviceType") or "ClusterIP")

    def desired(self, resource: Obj) -> Obj:
        meta, spec = resource["metadata"], resource.get("spec") or {}
        name = meta["name"]
        base = self._labels(name)
        extra_labels, annotations = self._overrides(spec)
        port = self.of.port(spec)
        service_spec: Obj = {
            "selector": base,
            "sessionAffinity": self.affinity(spec),
            "ports": [{"port": port, "targetPort": port, "protocol": "TCP", "name": "http"}],
        }
        if self.of.typed:
            service_spec["type"] = self._type(spec)
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": self.of.service_name(name),
                "namespace": meta["namespace"],
                "labels": {**extra_labels, **base},
                "annotations": annotations,
                # controllerutil.SetControllerReference
                "ownerReferences": [
                    {
                        "apiVersion": resource["apiVersion"],
                        "kind": self.of.kind,
                        "name": name,
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": service_spec,
        }

    # -- serviceNeedsUpdate ------------------------------------------------------------------------
    def needs_update(self, service: Obj, resource: Obj) -> bool:
        spec, live = resource.get("spec") or {}, service.get("spec") or {}
        ports = live.get("ports") or []
        if ports and ports[0].get("port") != self.of.port(spec):
            return True
        if self.of.typed and live.get("type") != self._type(spec):
            return True
        if live.get("sessionAffinity") != self.affinity(spec):
            return True
        extra_labels, annotations = self._overrides(spec)
        meta = service.get("metadata") or {}
        wanted_labels = {**extra_labels, **self._labels(resource["metadata"]["name"])}
        live_labels, live_annotations = meta.get("labels") or {}, meta.get("annotations") or {}
        return not (
            wanted_labels.items() <= live_labels.items() and annotations.items() <= live_annotations.items()
        )

    # -- one reconcile -----------------------------------------------------------------------------
    def reconcile(self, resource: Obj) -> bool:
        """One pass over the proxy Service; True when it wrote (the real one then requeues)."""
        namespace = resource["metadata"]["namespace"]
        name = self.of.service_name(resource["metadata"]["name"])
        path = f"/api/v1/namespaces/{namespace}/services/{name}"
        service = self.kube.get(path)
        if service is None:
            self.kube.request("POST", f"/api/v1/namespaces/{namespace}/services", body=self.desired(resource))
            self.creates += 1
            return True
        if not self.needs_update(service, resource):
            return False
        want = self.desired(resource)
        service["spec"]["ports"] = want["spec"]["ports"]
        service["spec"]["sessionAffinity"] = want["spec"]["sessionAffinity"]
        if self.of.typed:
            service["spec"]["type"] = want["spec"]["type"]
        meta = service["metadata"]
        meta["labels"] = {**(meta.get("labels") or {}), **want["metadata"]["labels"]}
        meta["annotations"] = {**(meta.get("annotations") or {}), **want["metadata"]["annotations"]}
        self.kube.request("PUT", path, body=service)  # carries resourceVersion: optimistic concurrency
        self.updates += 1
        return True
