"""affinity-with-redis: with shared sessions, ClientIP stickiness only concentrates load.

Behind a proxy or ingress every client has the same source IP, so ClientIP sends all of them to one
pod; ToolHive's docs recommend sessionAffinity: None once sessions live in Redis.
"""

from __future__ import annotations

from mcp_admission.policies.engine.model import NO_OUTCOME, Finding, Outcome, Phase, Request
from mcp_admission.policies.engine.policy import Policy, int_field
from mcp_admission.policies.engine.settings import PolicySettings
from mcp_admission.policies.engine.workloads import MCP_RESOURCE_KINDS, Workload, mapping
from mcp_admission.policies.session_storage import uses_redis

ID = "affinity-with-redis"


def evaluate(request: Request, workload: Workload, settings: PolicySettings) -> Outcome:
    spec = mapping(request.object.get("spec"))
    replicas = int_field(spec.get("replicas"))
    # sessionAffinity: the CRDs default it to ClientIP before admission webhooks see the object.
    if not uses_redis(spec) or replicas is None or replicas <= 1 or spec.get("sessionAffinity") != "ClientIP":
        return NO_OUTCOME
    message = (
        "sessions are in redis: ClientIP pins clients behind a proxy to one pod; use sessionAffinity None"
    )
    return Outcome(findings=(Finding(ID, message),))


POLICY = Policy(
    id=ID,
    summary="advise sessionAffinity: None when Redis shares sessions across replicas",
    phase=Phase.VALIDATE,
    kinds=MCP_RESOURCE_KINDS,
    operations=frozenset({"CREATE", "UPDATE"}),
    evaluate=evaluate,
    settings=PolicySettings,
)
