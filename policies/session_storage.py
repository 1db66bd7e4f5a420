"""session-storage: several proxy replicas lose sessions on failover unless they share a store (Redis).

Where a resource's sessions live is what ToolHive's operator makes of its spec (commit e25de16):
`spec.sessionStorage.provider: redis` puts them in that Redis. Without it, an operator with a default
Redis (env TOOLHIVE_DEFAULT_REDIS_ADDR, Helm operator.defaultRedis.addr or global.redis.host;
pkg/controllerutil/defaultredis.go: ReadDefaultRedisConfig) wires that one in, and the configuration
says so (toolhive.defaultSessionStorage: redis). When it does, per kind:

- MCPServer (controllers/mcpserver_runconfig.go: populateScalingConfig) and VirtualMCPServer
  (pkg/vmcpconfig/converter.go: convertSessionStorage): whenever the provider is not redis, so an
  explicit `provider: memory` gets the default Redis too;
- MCPRemoteProxy (controllers/mcpremoteproxy_runconfig.go: populateScalingConfigForRemoteProxy): only
  when spec.sessionStorage is absent; an explicit one is kept, whatever its provider.
"""

from __future__ import annotations

from mcp_admission.policies.engine.model import NO_OUTCOME, Finding, Outcome, Phase, Request, mapping
from mcp_admission.policies.engine.policy import Policy, int_field
from mcp_admission.policies.engine.settings import PolicySettings
from mcp_admission.policies.engine.workloads import MCP_RESOURCE_KINDS, Workload

ID = "session-storage"
REPLICA_FIELDS = ("replicas", "backendReplicas")  # backendReplicas exists on MCPServer only
# The kinds whose operator code falls back to the default Redis only when spec.sessionStorage is absent.
EXPLICIT_STORAGE_KEPT = frozenset({"MCPRemoteProxy"})


def sessions_in_redis(workload: Workload, spec: dict[str, object]) -> bool:
    """Whether ToolHive's operator gives this resource's replicas a shared (Redis) session store."""
    storage = spec.get("sessionStorage")
    if mapping(storage).get("provider") == "redis":
        return True
    if workload.default_session_storage != "redis":
        return False
    return storage is None or workload.kind not in EXPLICIT_STORAGE_KEPT


def evaluate(request: Request, workload: Workload, settings: PolicySettings) -> Outcome:
    spec = mapping(request.object.get("spec"))
    if sessions_in_redis(workload, spec):
        return NO_OUTCOME
    findings = []
    for field in REPLICA_FIELDS:
        replicas = int_field(spec.get(field))
        if replicas is not None and replicas > 1:
            message = f"spec.{field} {replicas} without sessionStorage redis: sessions are not shared"
            findings.append(Finding(ID, message))
    return Outcome(findings=tuple(findings))


POLICY = Policy(
    id=ID,
    summary="warn when replicas (or backendReplicas) exceed 1 without sessionStorage.provider: redis",
    phase=Phase.VALIDATE,
    kinds=MCP_RESOURCE_KINDS,
    operations=frozenset({"CREATE", "UPDATE"}),
    evaluate=evaluate,
    settings=PolicySettings,
)
