"""affinity-with-redis: a resource's sessionAffinity must fit where its sessions live.

ToolHive's operator gives the proxy Service (mcp-X-proxy, mcp-X-remote-proxy, vmcp-X) the resource's own
spec.sessionAffinity, ClientIP when empty (serviceForMCPServer, serviceForMCPRemoteProxy,
serviceForVirtualMCPServer), so this is where the choice is made and where we speak about it; the
session-affinity policy leaves those Services alone. With more than one replica:

- None without Redis: round-robin sends a session's requests to replicas that never saw it.
- ClientIP with Redis: nothing needs the stickiness any more, and behind a proxy or ingress every client
  has the same source IP, so ClientIP sends all of them to one pod; ToolHive's docs recommend None.

Redis is the resource's own or the operator's default one (session_storage.sessions_in_redis).
"""

from __future__ import annotations

from mcp_admission.policies.engine.model import NO_OUTCOME, Finding, Outcome, Phase, Request, mapping
from mcp_admission.policies.engine.policy import Policy, int_field
from mcp_admission.policies.engine.settings import PolicySettings
from mcp_admission.policies.engine.workloads import MCP_RESOURCE_KINDS, Workload
from mcp_admission.policies.session_storage import sessions_in_redis

ID = "affinity-with-redis"


def evaluate(request: Request, workload: Workload, settings: PolicySettings) -> Outcome:
    spec = mapping(request.object.get("spec"))
    replicas = int_field(spec.get("replicas"))
    if replicas is None or replicas <= 1:  # absent: an HPA owns the count, the policies say nothing
        return NO_OUTCOME
    # The CRDs default it to ClientIP before webhooks see the object; the operator reads "" as ClientIP.
    affinity = spec.get("sessionAffinity") or "ClientIP"
    redis = sessions_in_redis(workload, spec)  # the operator's default Redis counts, as it does there
    if redis and affinity == "ClientIP":
        message = (
            "sessions are in redis: ClientIP pins clients behind a proxy to one pod; use sessionAffinity None"
        )
    elif not redis and affinity == "None":
        lost = "a session's requests reach pods that lack it"
        message = f"sessionAffinity None, {replicas} replicas, no redis: {lost}"
    else:
        return NO_OUTCOME
    return Outcome(findings=(Finding(ID, message),))


POLICY = Policy(
    id=ID,
    summary="warn when a resource's sessionAffinity does not fit its replicas and sessionStorage",
    phase=Phase.VALIDATE,
    kinds=MCP_RESOURCE_KINDS,
    operations=frozenset({"CREATE", "UPDATE"}),
    evaluate=evaluate,
    settings=PolicySettings,
)
