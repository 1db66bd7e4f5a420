"""affinity-with-redis: with shared sessions, ClientIP stickiness only concentrates load.

Behind a proxy or ingress every client has the same source IP, so ClientIP sends all of them to one
pod; ToolHive's docs recommend sessionAffinity: None once sessions live in Redis.
"""

from __future__ import annotations

from .catalog import Policy, int_field
from .model import NO_OUTCOME, Finding, Outcome, Phase, Request
from .session_storage import uses_redis
from .settings import PolicyConfig
from .workloads import MCP_RESOURCE_KINDS, Workload, mapping

ID = "affinity-with-redis"


def evaluate(request: Request, workload: Workload, config: PolicyConfig) -> Outcome:
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
)
