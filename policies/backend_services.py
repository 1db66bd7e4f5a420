"""The backend Services an MCP StatefulSet gets under the configuration: which, named how, selecting what.

The engine (engine/backend.py) says which StatefulSets are served and ToolHive's names; this adds what
the configuration and the opt-outs change: the headless name's pattern (statefulset-dns), the sticky
Service's affinity (session-affinity), and either policy skipped. The reconciler turns the plan into
manifests (ports, owner, labels); the webhook's statefulset-dns names the same headless Service.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from mcp_admission.policies import session_affinity, statefulset_dns
from mcp_admission.policies.engine.backend import (
    BACKEND_SERVICE_PREFIX,
    backend_selector,
    cluster_ip_service_name,
)
from mcp_admission.policies.engine.model import JSON, mapping
from mcp_admission.policies.engine.workloads import SKIP_ANNOTATION, recognise_object
from mcp_admission.policies.registry import PolicyConfig


class BackendServices(NamedTuple):
    """The plan for one served StatefulSet; a name is None when that Service is not wanted (see skipped)."""

    selector: dict[str, str]
    headless: str | None
    sticky: str | None
    sticky_annotations: dict[str, str]
    sticky_spec: dict[str, Any]  # its session affinity
    skipped: tuple[str, ...]


def service_names(statefulset_name: str, config: PolicyConfig) -> tuple[str | None, str | None]:
    """The sticky and the headless backend Service names of a StatefulSet under the configuration."""
    dns = config.settings(statefulset_dns.POLICY)
    headless = statefulset_dns.headless_service_name(statefulset_name, dns)
    return cluster_ip_service_name(statefulset_name), headless


def backend_services(statefulset: JSON, config: PolicyConfig) -> BackendServices | str:
    """The plan for an MCP StatefulSet's backend Services, or why it gets none."""
    obj = mapping(statefulset)
    metadata = mapping(obj.get("metadata"))
    name, namespace = metadata.get("name"), metadata.get("namespace")
    if not isinstance(name, str) or not isinstance(namespace, str):
        return "no name or namespace"
    if namespace in config.excluded_namespaces:
        return "namespace excluded"
    workload = recognise_object("apps", "v1", "StatefulSet", namespace, name, obj, config.workloads)
    if workload is None:
        return "not an MCP workload"
    selector = backend_selector(obj, workload)
    if selector is None:
        return f"transport {workload.transport}: no backend Services"
    skipped = workload.skipped
    if "*" in skipped:
        return "opted out of every policy"
    if isinstance(selector, str):
        return selector
    reasons: list[str] = []
    sticky, headless = service_names(name, config)
    if statefulset_dns.ID in skipped:
        reasons.append(f"opted out of {statefulset_dns.ID}: no headless Service")
        headless = None
    elif headless is None:
        reasons.append("no valid headless Service name")
    if sticky is None:
        reasons.append(f"{BACKEND_SERVICE_PREFIX}{name} is no valid Service name")
    annotations: dict[str, str] = {}
    if session_affinity.ID in skipped:
        # Opting out means round-robin (ToolHive's docs advise it with Redis); the annotation is copied so
        # the webhook's session-affinity policy leaves this Service as the reconciler makes it.
        annotations = {SKIP_ANNOTATION: session_affinity.ID}
        affinity: dict[str, Any] = {"sessionAffinity": "None"}
    else:
        timeout = config.settings(session_affinity.POLICY).timeout_seconds
        affinity = {
            "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": timeout}},
        }
    return BackendServices(selector, headless, sticky, annotations, affinity, tuple(reasons))
