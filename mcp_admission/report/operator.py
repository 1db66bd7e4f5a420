"""ToolHive's operator as its Deployment configures it: whether it has a default Redis for sessions.

The operator reads TOOLHIVE_DEFAULT_REDIS_ADDR from its own environment (ToolHive e25de16,
cmd/thv-operator/pkg/controllerutil/defaultredis.go: ReadDefaultRedisConfig; empty means none); its Helm
chart sets it from operator.defaultRedis.addr or global.redis.host (deploy/charts/operator/templates/
deployment.yaml), always beside TOOLHIVE_RUNNER_IMAGE. The audit reads both from the Deployments it lists
anyway (no other object, no other permission), `check` from those in its input (a rendered chart). A
value from a ConfigMap or Secret (`valueFrom`) is named, not read (the audit would need access to that
object), and `envFrom` is not followed, for the same reason.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from mcp_admission.policies import (
    APP_NAME_LABEL,
    TOOLHIVE_APP_NAMES,
    TOOLHIVE_LABEL,
    PolicyConfig,
    mapping,
)

ADDR_ENV = "TOOLHIVE_DEFAULT_REDIS_ADDR"
# Set by the operator's chart on every install; the operator's proxies and servers never carry it.
OPERATOR_ENV = frozenset({ADDR_ENV, "TOOLHIVE_RUNNER_IMAGE"})
SETTING = "toolhive.defaultSessionStorage"
WARNINGS = "session-storage and affinity-with-redis"


class Operator(NamedTuple):
    """A Deployment of ToolHive's operator and its default Redis: the address, where the address comes
    from (a valueFrom, not read), or None when it has none."""

    namespace: str
    name: str
    default_redis: str | None


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A container's env entries by name; of one name given twice, the last (as the kubelet does)."""
    entries = container.get("env")
    found: dict[str, dict[str, Any]] = {}
    for entry in entries if isinstance(entries, list) else ():
        entry = mapping(entry)
        if isinstance(entry.get("name"), str):
            found[entry["name"]] = entry
    return found


def _source(value_from: dict[str, Any]) -> str:
    """Where a valueFrom takes its value, as kubectl describe says it."""
    for field, what in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
        ref = mapping(value_from.get(field))
        if ref:
            return f"{ADDR_ENV} from {what} {ref.get('name')}, key {ref.get('key')}, not read"
    return f"{ADDR_ENV} from {', '.join(sorted(value_from))}, not read"


def _address(entry: dict[str, Any] | None) -> str | None:
    if entry is None:
        return None
    value_from = mapping(entry.get("valueFrom"))
    if value_from:
        return _source(value_from)
    value = entry.get("value")
    return f"{ADDR_ENV}={value}" if isinstance(value, str) and value else None  # "": none, as in Go


def toolhive_operator(deployment: dict[str, Any], namespace: str) -> Operator | None:
    """The Deployment (in `namespace`) as ToolHive's operator, or None when it is not one."""
    metadata = mapping(deployment.get("metadata"))
    labels = mapping(metadata.get("labels"))
    if labels.get(TOOLHIVE_LABEL) == "true" or labels.get(APP_NAME_LABEL) in TOOLHIVE_APP_NAMES:
        return None  # something the operator made (a proxy), whatever its environment says
    pod = mapping(mapping(mapping(deployment.get("spec")).get("template")).get("spec"))
    containers = pod.get("containers")
    for container in containers if isinstance(containers, list) else ():
        env = _env(mapping(container))
        if OPERATOR_ENV & env.keys():
            return Operator(namespace, str(metadata.get("name")), _address(env.get(ADDR_ENV)))
    return None


def _names(operators: list[Operator]) -> str:
    return ", ".join(f"{o.namespace}/{o.name}" for o in operators)


def notices(operators: list[Operator], config: PolicyConfig) -> list[str]:
    """What the report says first when the configuration and the operator disagree (audit, check)."""
    default = config.toolhive.default_session_storage
    with_redis = [o for o in operators if o.default_redis is not None]
    without = [o for o in operators if o.default_redis is None]
    if default == "memory" and with_redis:
        sources = "; ".join(o.default_redis or "" for o in with_redis)
        return [
            f"ToolHive's operator (Deployment {_names(with_redis)}) has a default Redis ({sources}): "
            f"resources without spec.sessionStorage share sessions through it, but {SETTING} is memory, "
            f"so {WARNINGS} warn as if they did not; set {SETTING}: redis in the configuration"
        ]
    if default == "redis" and without:
        return [
            f"{SETTING} is redis, but ToolHive's operator (Deployment {_names(without)}) has no "
            f"{ADDR_ENV}: resources without spec.sessionStorage keep sessions in each replica's memory, "
            f"and {WARNINGS} do not say so; set {SETTING}: memory in the configuration"
        ]
    return []
