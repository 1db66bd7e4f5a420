"""The backend Services an MCP StatefulSet needs (design §3), as the reconciler applies them.

Pure: the manifests follow from the StatefulSet and the configuration only.
Which StatefulSets get them, their names, selector and affinity are the policies' (backend_services):
here they become manifests, headless `mcp-X-headless` (pod DNS; it needs no port) and ClusterIP `mcp-X`
(sticky; only with a port to serve), both owned by the StatefulSet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp_admission.policies import JSON, PolicyConfig, backend_services, mapping

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "mcp-admission"
PORT_LABEL = "toolhive-port"  # ToolHive's StatefulSets carry the MCP port here


@dataclass(frozen=True, slots=True)
class ServicePlan:
    """The Services a StatefulSet needs; `skipped` says why some or all are not wanted."""

    services: tuple[dict[str, Any], ...] = ()
    skipped: str | None = None


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
    plan = backend_services(statefulset, config)
    if isinstance(plan, str):
        return ServicePlan(skipped=plan)
    obj = mapping(statefulset)
    metadata = mapping(obj.get("metadata"))
    ports = _service_ports(mapping(metadata.get("labels")), mapping(mapping(obj.get("spec")).get("template")))

    def manifest(name: str, annotations: dict[str, str], service_spec: dict[str, Any]) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "name": name,
            "namespace": metadata["namespace"],
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
                    "name": metadata["name"],
                    "uid": uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ]
        base: dict[str, Any] = {"type": "ClusterIP", "selector": plan.selector}
        if ports:  # a headless Service needs none; an empty list would be dropped on the server (drift)
            base["ports"] = ports
        return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {**base, **service_spec}}

    services = []
    reasons = list(plan.skipped)
    if plan.headless is not None:
        # publishNotReadyAddresses: a pod's DNS name must resolve from the moment it exists, as for any
        # StatefulSet's governing Service, so a pinned session's host keeps resolving while its pod restarts.
        services.append(manifest(plan.headless, {}, {"clusterIP": "None", "publishNotReadyAddresses": True}))
    if plan.sticky is not None and not ports:
        reasons.append(f"no container port and no {PORT_LABEL} label: no {plan.sticky}")
    elif plan.sticky is not None:
        services.append(manifest(plan.sticky, plan.sticky_annotations, plan.sticky_spec))
    return ServicePlan(tuple(services), "; ".join(reasons) or None)


def desired_services(statefulset: JSON, config: PolicyConfig) -> tuple[dict[str, Any], ...]:
    """The Service manifests an MCP StatefulSet needs: none for non-MCP, stdio, opted-out or excluded ones."""
    return plan_services(statefulset, config).services
