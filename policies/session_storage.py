"""session-storage: several proxy replicas lose sessions on failover unless they share a store (Redis)."""

from __future__ import annotations

from mcp_admission.policies.engine.model import NO_OUTCOME, Finding, Outcome, Phase, Request
from mcp_admission.policies.engine.policy import Policy, int_field
from mcp_admission.policies.engine.settings import PolicySettings
from mcp_admission.policies.engine.workloads import MCP_RESOURCE_KINDS, Workload, mapping

ID = "session-storage"
REPLICA_FIELDS = ("replicas", "backendReplicas")  # backendReplicas exists on MCPServer only


def uses_redis(spec: dict[str, object]) -> bool:
    return mapping(spec.get("sessionStorage")).get("provider") == "redis"


def evaluate(request: Request, workload: Workload, settings: PolicySettings) -> Outcome:
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
    settings=PolicySettings,
)
