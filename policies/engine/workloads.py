"""Which objects are MCP workloads (design §3), and what the policies need to know about them.

Everything else gets nothing, so the first checks are the cheapest: kind, then labels.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from mcp_admission.policies.engine.backend import backend_service_names
from mcp_admission.policies.engine.model import JSON, Request, mapping, text
from mcp_admission.policies.engine.settings import (
    LabelSelectorRequirement,
    WorkloadSelector,
    WorkloadSettings,
)

TOOLHIVE_GROUP = "toolhive.stacklok.dev"
TOOLHIVE_VERSIONS = frozenset({"v1alpha1", "v1beta1"})
# EmbeddingServer is deliberately absent: stateless inference, no MCP sessions.
MCP_RESOURCE_KINDS = frozenset({"MCPServer", "MCPRemoteProxy", "VirtualMCPServer"})
# The kinds ToolHive (or a user) runs MCP servers as; Scale and other subresources never arrive here.
CORE_KINDS = frozenset({("", "Service"), ("apps", "StatefulSet"), ("apps", "Deployment")})


class ApiResource(NamedTuple):
    group: str
    versions: tuple[str, ...]  # the ones the engine knows, oldest first
    resource: str  # the plural in an API path and in webhook and RBAC rules


# Where each kind the engine recognises is served: the webhook configurations' rules, the audit's lists.
API_RESOURCES = {
    "Service": ApiResource("", ("v1",), "services"),
    "StatefulSet": ApiResource("apps", ("v1",), "statefulsets"),
    "Deployment": ApiResource("apps", ("v1",), "deployments"),
    "MCPServer": ApiResource(TOOLHIVE_GROUP, tuple(sorted(TOOLHIVE_VERSIONS)), "mcpservers"),
    "MCPRemoteProxy": ApiResource(TOOLHIVE_GROUP, tuple(sorted(TOOLHIVE_VERSIONS)), "mcpremoteproxies"),
    "VirtualMCPServer": ApiResource(TOOLHIVE_GROUP, tuple(sorted(TOOLHIVE_VERSIONS)), "virtualmcpservers"),
}

# Labels ToolHive puts on what it creates (cmd/thv-operator), and the value of app.kubernetes.io/name
# on its proxy Deployments and Services.
TOOLHIVE_LABEL = "toolhive"
TOOLHIVE_TRANSPORT_LABEL = "toolhive-transport"
TOOLHIVE_APP_NAMES = frozenset({"mcpserver", "mcpremoteproxy", "virtualmcpserver"})
APP_NAME_LABEL = "app.kubernetes.io/name"  # where ToolHive's proxies carry one of those names
# Ours, for MCP servers deployed without ToolHive.
TRANSPORT_LABEL = "mcp-admission.io/transport"
SKIP_ANNOTATION = "mcp-admission.io/skip-policies"  # comma-separated policy IDs, or "*"
# What surrounds an entry of SKIP_ANNOTATION and is ignored: Unicode's White_Space characters, which are
# Go's unicode.IsSpace (what strings.TrimSpace strips). Not str.strip()'s notion: it adds U+001C..U+001F.
# The matchConditions test "*" with a regular expression whose class is made of these characters, so
# the engine and the apiserver agree on every string.
SPACES = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
# An opt-out annotation longer than this (in characters) opts out of nothing: a list of every policy
# is an eighth of it. The matchConditions then read at most this much of a string the object's author
# writes (docs/policies.md, "What the CEL costs"), and the engine decides past it as they do.
MAX_SKIP_LENGTH = 1024
# A Service is recognised by its owners only if it has at most this many ownerReferences (ToolHive's
# have one): the matchConditions' one loop then has a bound (in the apiserver, a comprehension over
# 100,000 entries cost a v1.36 apiserver 23 s a write), and the engine decides past it as they do.
MAX_OWNER_REFERENCES = 100
TRANSPORTS = frozenset({"stdio", "sse", "streamable-http"})


class Workload(NamedTuple):
    """An MCP workload as the policies see it."""

    group: str
    kind: str
    name: str
    labels: dict[str, Any]
    transport: str | None  # None when nothing says (CRs carry it in spec; see policies)
    skipped: frozenset[str]  # policy IDs the object opted out of with SKIP_ANNOTATION ("*" for all)
    # ToolHive's resources: where the operator keeps sessions that spec.sessionStorage does not place
    # (the configuration's toolhive.defaultSessionStorage; see session_storage.sessions_in_redis).
    default_session_storage: str = "memory"


def _label_match(labels: dict[str, Any], req: LabelSelectorRequirement) -> bool:
    present = req.key in labels
    if req.operator == "Exists":
        return present
    if req.operator == "DoesNotExist":
        return not present
    if req.operator == "In":
        return present and labels[req.key] in req.values
    return not present or labels[req.key] not in req.values  # NotIn, as Kubernetes defines it


def selector_matches(sel: WorkloadSelector, kind: str, namespace: str, labels: dict[str, Any]) -> bool:
    if sel.kinds and kind not in sel.kinds:
        return False
    if sel.namespaces and namespace not in sel.namespaces:
        return False
    if any(labels.get(k) != v for k, v in sel.match_labels.items()):
        return False
    return all(_label_match(labels, r) for r in sel.match_expressions)


def _owned_by_mcp(name: str, metadata: dict[str, Any]) -> bool:
    """ToolHive's Services are owned by its resources, or (backend ones) by the StatefulSet they serve."""
    owners = metadata.get("ownerReferences")
    if not isinstance(owners, list) or len(owners) > MAX_OWNER_REFERENCES:
        return False
    for ref in owners:
        ref = mapping(ref)
        api_version, kind, owner = text(ref.get("apiVersion")), text(ref.get("kind")), text(ref.get("name"))
        if api_version is None or kind is None or owner is None:
            continue
        if kind in MCP_RESOURCE_KINDS and api_version.partition("/")[0] == TOOLHIVE_GROUP:
            return True
        if kind == "StatefulSet" and name in backend_service_names(owner):
            return True
    return False


def recognise(request: Request, settings: WorkloadSettings) -> Workload | None:
    """The request's object as an MCP workload, or None when it is not one."""
    return recognise_object(
        request.group,
        request.version,
        request.kind,
        request.namespace,
        request.name,
        request.object,
        settings,
    )


def recognise_object(
    group: str, version: str, kind: str, namespace: str, name: str, obj: JSON, settings: WorkloadSettings
) -> Workload | None:
    """An object as an MCP workload, or None; `name` is used when its metadata has none (generateName)."""
    obj = mapping(obj)
    metadata = mapping(obj.get("metadata"))
    labels = mapping(metadata.get("labels"))
    own_name = metadata.get("name")
    if isinstance(own_name, str):
        name = own_name

    if group == TOOLHIVE_GROUP:
        if kind in MCP_RESOURCE_KINDS and version in TOOLHIVE_VERSIONS:
            return Workload(group, kind, name, labels, None, _skipped(metadata))
        return None
    if (group, kind) not in CORE_KINDS:
        return None

    # Selection first: most Services, StatefulSets and Deployments in a cluster are not MCP servers.
    selected = labels.get(settings.opt_in_label) == "true" or (
        labels.get(TOOLHIVE_LABEL) == "true"
        or text(labels.get(APP_NAME_LABEL)) in TOOLHIVE_APP_NAMES
        or (kind == "Service" and _owned_by_mcp(name, metadata))
    )
    if not selected and not settings.selectors:
        return None
    transport = text(labels.get(TRANSPORT_LABEL)) or text(labels.get(TOOLHIVE_TRANSPORT_LABEL))
    if not selected or transport is None:  # a matching selector may select it, or say its transport
        for sel in settings.selectors:
            if selector_matches(sel, kind, namespace, labels):
                selected = True
                transport = transport or sel.transport
                break
    if not selected:
        return None
    transport = transport if transport in TRANSPORTS else None
    return Workload(group, kind, name, labels, transport, _skipped(metadata))


def _skipped(metadata: dict[str, Any]) -> frozenset[str]:
    value = mapping(metadata.get("annotations")).get(SKIP_ANNOTATION)
    if not isinstance(value, str) or len(value) > MAX_SKIP_LENGTH:
        return frozenset()
    return frozenset(entry for part in value.split(",") if (entry := part.strip(SPACES)))
