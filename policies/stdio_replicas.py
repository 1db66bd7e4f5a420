"""stdio-replicas: a stdio MCP server is one process attached to one proxy; more replicas are wrong."""

from __future__ import annotations

from mcp_admission.policies.engine.model import NO_OUTCOME, Finding, Outcome, Phase, Request, mapping
from mcp_admission.policies.engine.patch import set_members
from mcp_admission.policies.engine.policy import Policy, int_field
from mcp_admission.policies.engine.settings import PolicySettings
from mcp_admission.policies.engine.workloads import Workload

ID = "stdio-replicas"
# Fields capped per kind. MCPServer: proxy runner and backend replicas (CRD v1alpha1 and v1beta1).
FIELDS = {"MCPServer": ("replicas", "backendReplicas"), "StatefulSet": ("replicas",)}


def transport_of(request: Request, workload: Workload) -> str | None:
    """An MCPServer's transport (the CRD defaults it to stdio); a StatefulSet's from its labels."""
    if workload.kind == "MCPServer":
        transport = mapping(request.object.get("spec")).get("transport", "stdio")
        return transport if isinstance(transport, str) else None
    return workload.transport


def evaluate(request: Request, workload: Workload, settings: PolicySettings) -> Outcome:
    if transport_of(request, workload) != "stdio":
        return NO_OUTCOME
    spec = mapping(request.object.get("spec"))
    capped: dict[str, int] = {}
    findings = []
    for field in FIELDS[workload.kind]:
        replicas = int_field(spec.get(field))
        # Absent means an HPA or controller owns the count: never add the field.
        if replicas is not None and replicas > 1:
            capped[field] = 1
            findings.append(Finding(ID, f"spec.{field} {replicas} -> 1: a stdio server is one process", True))
    return Outcome(set_members(request.object, ("spec",), capped), tuple(findings))


POLICY = Policy(
    id=ID,
    summary="stdio MCP servers run one replica: replicas/backendReplicas above 1 become 1",
    phase=Phase.MUTATE,
    kinds=frozenset(FIELDS),
    operations=frozenset({"CREATE", "UPDATE"}),
    evaluate=evaluate,
    settings=PolicySettings,
)
