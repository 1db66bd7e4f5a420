"""The apiserver's own checks (core/apps validation) that a patched object must pass, as tests use them."""

from __future__ import annotations

from typing import Any


def service_problems(svc: dict[str, Any]) -> list[str]:
    """pkg/apis/core/validation: the session-affinity rules a mutated Service must satisfy."""
    spec = svc.get("spec", {})
    problems = []
    affinity = spec.get("sessionAffinity")
    config = spec.get("sessionAffinityConfig")
    if affinity == "ClientIP":
        timeout = ((config or {}).get("clientIP") or {}).get("timeoutSeconds")
        if not isinstance(timeout, int) or not 0 < timeout <= 86400:
            problems.append(f"ClientIP needs 0 < timeoutSeconds <= 86400, got {timeout!r}")
    elif affinity == "None":
        if config is not None:
            problems.append("sessionAffinity None must not carry sessionAffinityConfig")
    else:
        problems.append(f"unsupported sessionAffinity {affinity!r}")
    if spec.get("clusterIP") == "None" and spec.get("type") in ("NodePort", "LoadBalancer"):
        problems.append("clusterIP None is rejected for NodePort and LoadBalancer")
    return problems


IMMUTABLE_STATEFULSET_FIELDS = ("serviceName", "selector", "volumeClaimTemplates", "podManagementPolicy")


def statefulset_update_problems(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """pkg/apis/apps/validation: an update may not change the immutable spec fields."""
    return [
        f"spec.{field} is immutable"
        for field in IMMUTABLE_STATEFULSET_FIELDS
        if old.get("spec", {}).get(field) != new.get("spec", {}).get(field)
    ]
