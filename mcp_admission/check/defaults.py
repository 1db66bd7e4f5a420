"""The defaults the apiserver applies before admission webhooks run, for raw manifests (CLI `check`).

Only those the policies read. Copy-on-write along the changed path: the input is never modified.
Sources: pkg/apis/core/v1/defaults.go, pkg/apis/apps/v1/defaults.go, the ToolHive CRD schemas.
"""

from __future__ import annotations

from typing import Any

from mcp_admission.policies import JSON, TOOLHIVE_GROUP, mapping

# CRD structural-schema defaults (crds/*.yaml, v1alpha1 and v1beta1 alike).
_CRD_SPEC_DEFAULTS: dict[str, dict[str, Any]] = {
    "MCPServer": {"transport": "stdio", "sessionAffinity": "ClientIP", "proxyPort": 8080},
    "MCPRemoteProxy": {"transport": "streamable-http", "sessionAffinity": "ClientIP", "proxyPort": 8080},
    "VirtualMCPServer": {"sessionAffinity": "ClientIP", "serviceType": "ClusterIP"},
}
_CORE_SPEC_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    ("", "Service"): {"type": "ClusterIP", "sessionAffinity": "None"},
    ("apps", "StatefulSet"): {"replicas": 1},
    ("apps", "Deployment"): {"replicas": 1},
}
CLIENT_IP_DEFAULT_TIMEOUT = 10800  # core/v1 DefaultClientIPServiceAffinitySeconds
# core/v1 SetDefaults_PodSpec, on every pod template: DefaultTerminationGracePeriodSeconds. Not on
# ToolHive's podTemplateSpec, whose schema is raw (x-kubernetes-preserve-unknown-fields).
_POD_TEMPLATE_KINDS = frozenset({("apps", "StatefulSet"), ("apps", "Deployment")})
TERMINATION_GRACE_DEFAULT = 30


def with_server_defaults(group: str, kind: str, obj: JSON) -> JSON:
    """The object as the apiserver hands it to mutating webhooks on CREATE."""
    if not isinstance(obj, dict) or not isinstance(obj.get("spec"), dict):
        return obj
    table = (
        _CRD_SPEC_DEFAULTS.get(kind) if group == TOOLHIVE_GROUP else _CORE_SPEC_DEFAULTS.get((group, kind))
    )
    if table is None:
        return obj
    spec = obj["spec"]
    missing = {key: value for key, value in table.items() if key not in spec}
    if (group, kind) == ("", "Service"):
        missing.update(_client_ip_timeout({**spec, **missing}))
    elif (group, kind) in _POD_TEMPLATE_KINDS:
        missing.update(_termination_grace(spec))
    if not missing:
        return obj
    return {**obj, "spec": {**spec, **missing}}


def _client_ip_timeout(spec: dict[str, Any]) -> dict[str, Any]:
    if spec.get("sessionAffinity") != "ClientIP":
        return {}
    config = mapping(spec.get("sessionAffinityConfig"))
    client_ip = mapping(config.get("clientIP"))
    if client_ip.get("timeoutSeconds") is not None:
        return {}
    timeout = {**client_ip, "timeoutSeconds": CLIENT_IP_DEFAULT_TIMEOUT}
    return {"sessionAffinityConfig": {**config, "clientIP": timeout}}


def _termination_grace(spec: dict[str, Any]) -> dict[str, Any]:
    template = spec.get("template")
    pod = template.get("spec") if isinstance(template, dict) else None
    # No pod spec at all: the apiserver refuses the object (no containers), so nothing to replay.
    if not isinstance(template, dict) or not isinstance(pod, dict):
        return {}
    if pod.get("terminationGracePeriodSeconds") is not None:
        return {}
    grace = {"terminationGracePeriodSeconds": TERMINATION_GRACE_DEFAULT}
    return {"template": {**template, "spec": {**pod, **grace}}}
