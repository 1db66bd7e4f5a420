"""session-storage: several proxy replicas lose sessions on failover unless they share a store (Redis)."""

from __future__ import annotations

from .catalog import Policy, int_field
from .model import NO_OUTCOME, Finding, Outcome, Phase, Request
from .settings import PolicyConfig
from .workloads import MCP_RESOURCE_KINDS, Workload, mapping

ID = "session-storage"
REPLICA_FIELDS = ("replicas", "backendReplicas")  # backendReplicas exists on MCPServer only


def uses_redis(spec: dict[str, object]) -> bool:
    return mapping(spec.get("sessionStorage")).get("provider") == "redis"


def evaluate(request: Request, workload: Workload, config: PolicyConfig) -> Outcome:
    spec = mapping(request.object.get("spec"))
    if uses_redis(spec):
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
)
