"""The backend Services an MCP StatefulSet needs (design §3), as the reconciler applies them.

Pure: the manifests follow from the StatefulSet and the configuration only.
For a StatefulSet served on the network (the engine's backend_selector decides: not stdio) ToolHive's
pair: headless `mcp-X-headless` (pod DNS, see statefulset-dns; it needs no port) and ClusterIP `mcp-X`
(sticky, see session-affinity; only with a port to serve), both owned by the StatefulSet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp_admission.names import service_name
from mcp_admission.policies import JSON, PolicyConfig, session_affinity, statefulset_dns
from mcp_admission.policies.engine.backend import backend_selector
from mcp_admission.policies.engine.workloads import (
    BACKEND_SERVICE_PREFIX,
    SKIP_ANNOTATION,
    mapping,
    recognise_object,
)
from mcp_admission.policies.statefulset_dns import headless_service_name

SESSION_AFFINITY = session_affinity.ID
STATEFULSET_DNS = statefulset_dns.ID

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "mcp-admission"
PORT_LABEL = "toolhive-port"  # ToolHive's StatefulSets carry the MCP port here


@dataclass(frozen=True, slots=True)
class ServicePlan:
    """The Services a StatefulSet needs; `skipped` says why some or all are not wanted."""

    services: tuple[dict[str, Any], ...] = ()
    skipped: str | None = None


def cluster_ip_service_name(statefulset_name: str) -> str | None:
    """ToolHive's sticky backend Service name, `mcp-<name>`; None when that is no valid Service name."""
    return service_name(BACKEND_SERVICE_PREFIX + "{name}", statefulset_name)


def _port_number(value: object) -> int | None:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536:
        return value
    return None


def _generated_port_name(port: int, protocol: str) -> str:
    # ToolHive names its backend port `port-<n>`; other protocols get a suffix so names stay unique.
    return f"port-{port}" if protocol == "TCP" else f"port-{port}-{protocol.lower()}"


def _service_ports(labels: dict[str, Any], template: dict[str, Any]) -> list[dict[str, Any]]:
    """The toolhive-port label's port (ToolHive's choice), else every container port of the pod template."""
    labelled = _port_number(labels.get(PORT_LABEL))
    if labelled is not None:
        return [
            {
                "name": _generated_port_name(labelled, "TCP"),
                "port": labelled,
                "targetPort": labelled,
                "protocol": "TCP",
            }
        ]
    ports: dict[tuple[int, str], str | None] = {}
    for container in mapping(mapping(template.get("spec"))).get("containers") or ():
        for port in mapping(container).get("ports") or ():
            port = mapping(port)
            number = _port_number(port.get("containerPort"))
            protocol = port.get("protocol") or "TCP"
            if number is not None and isinstance(protocol, str):
                name = port.get("name")
                ports.setdefault((number, protocol), name if isinstance(name, str) and name else None)
    names = [name for name in ports.values() if name]
    unique = len(names) == len(set(names))  # Service port names must be unique: else generate them all
    return [
        {
            "name": name if unique and name else _generated_port_name(number, protocol),
            "port": number,
            "targetPort": number,
            "protocol": protocol,
        }
        for (number, protocol), name in ports.items()
    ]


def plan_services(statefulset: JSON, config: PolicyConfig) -> ServicePlan:
    """The Service manifests (for server-side apply) an MCP StatefulSet needs, and why not when none."""
    obj = mapping(statefulset)
    metadata = mapping(obj.get("metadata"))
    name, namespace = metadata.get("name"), metadata.get("namespace")
    if not isinstance(name, str) or not isinstance(namespace, str):
        return ServicePlan(skipped="no name or namespace")
    if namespace in config.excluded_namespaces:
        return ServicePlan(skipped="namespace excluded")
    workload = recognise_object("apps", "v1", "StatefulSet", namespace, name, obj, config.workloads)
    if workload is None:
        return ServicePlan(skipped="not an MCP workload")
    selector = backend_selector(obj, workload)
    if selector is None:
        return ServicePlan(skipped=f"transport {workload.transport}: no backend Services")
    skipped = workload.skipped
    if "*" in skipped:
        return ServicePlan(skipped="opted out of every policy")
    if isinstance(selector, str):
        return ServicePlan(skipped=selector)
    ports = _service_ports(workload.labels, mapping(mapping(obj.get("spec")).get("template")))

    def manifest(
        service_name: str, annotations: dict[str, str], service_spec: dict[str, Any]
    ) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "name": service_name,
            "namespace": namespace,
            # The opt-in label makes the webhook (and `check`) treat the Service as an MCP workload.
            "labels": {MANAGED_BY_LABEL: MANAGED_BY, config.workloads.opt_in_label: "true"},
        }
        if annotations:
            meta["annotations"] = annotations
        uid = metadata.get("uid")
        if isinstance(uid, str) and uid:  # a raw manifest has none yet; the reconciler always has one
            meta["ownerReferences"] = [
                {
                    "apiVersion": "apps/v1",
                    "kind": "StatefulSet",
                    "name": name,
                    "uid": uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ]
        base: dict[str, Any] = {"type": "ClusterIP", "selector": selector}
        if ports:  # a headless Service needs none; an empty list would be dropped on the server (drift)
            base["ports"] = ports
        return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {**base, **service_spec}}

    services = []
    reasons = []
    sticky = cluster_ip_service_name(name)
    headless = headless_service_name(name, config.settings(statefulset_dns.POLICY))
    if STATEFULSET_DNS in skipped:
        reasons.append(f"opted out of {STATEFULSET_DNS}: no headless Service")
    elif headless is None:
        reasons.append("no valid headless Service name")
    else:
        # publishNotReadyAddresses: a pod's DNS name must resolve from the moment it exists, as for any
        # StatefulSet's governing Service, so a pinned session's host keeps resolving while its pod restarts.
        services.append(manifest(headless, {}, {"clusterIP": "None", "publishNotReadyAddresses": True}))
    if sticky is None:
        reasons.append(f"mcp-{name} is no valid Service name")
    elif not ports:
        reasons.append(f"no container port and no {PORT_LABEL} label: no {sticky}")
    elif SESSION_AFFINITY in skipped:
        # Opting out means round-robin (ToolHive's docs advise it with Redis); the annotation is copied so
        # the webhook's session-affinity policy leaves this Service as we make it.
        services.append(manifest(sticky, {SKIP_ANNOTATION: SESSION_AFFINITY}, {"sessionAffinity": "None"}))
    else:
        timeout = config.settings(session_affinity.POLICY).timeout_seconds
        affinity = {
            "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": timeout}},
        }
        services.append(manifest(sticky, {}, affinity))
    return ServicePlan(tuple(services), "; ".join(reasons) or None)


def desired_services(statefulset: JSON, config: PolicyConfig) -> tuple[dict[str, Any], ...]:
    """The Service manifests an MCP StatefulSet needs: none for non-MCP, stdio, opted-out or excluded ones."""
    return plan_services(statefulset, config).services
