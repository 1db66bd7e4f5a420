"""backend-affinity: behind one proxy pod, only one backend pod of an MCPServer gets any traffic.

ToolHive's proxy runner targets the backend through the ClusterIP Service mcp-X it applies with
sessionAffinity ClientIP, 1800 s, whatever the resource says (pkg/container/kubernetes/client.go:
createMCPService; pkg/runtime/setup.go uses that Service as the target host). Every request of one proxy
pod comes from that pod's IP, so kube-proxy keeps it on one backend pod: backendReplicas beyond the number
of proxy pods stay idle. The stickiness itself is right (backend sessions live in one pod's memory) and
agrees with our own default, so nothing writes it back; the advice goes on the MCPServer.
"""

from __future__ import annotations

from mcp_admission.policies.engine.model import NO_OUTCOME, Finding, Outcome, Phase, Request, mapping
from mcp_admission.policies.engine.policy import Policy, int_field
from mcp_admission.policies.engine.settings import PolicySettings
from mcp_admission.policies.engine.workloads import Workload
from mcp_admission.policies.stdio_replicas import transport_of

ID = "backend-affinity"


def evaluate(request: Request, workload: Workload, settings: PolicySettings) -> Outcome:
    if transport_of(request, workload) == "stdio":  # one process per proxy: no backend Service at all
        return NO_OUTCOME
    spec = mapping(request.object.get("spec"))
    backends = int_field(spec.get("backendReplicas"))
    # Absent replicas: the operator leaves the proxy Deployment's count alone, and it starts at one.
    proxies = int_field(spec.get("replicas"))
    proxies = 1 if proxies is None else proxies
    if backends is None or proxies < 1 or backends <= proxies:  # no proxy pod: nothing is served at all
        return NO_OUTCOME
    message = (
        f"backendReplicas {backends} > replicas {proxies}: ClientIP pins each proxy pod to one backend pod"
    )
    return Outcome(findings=(Finding(ID, message),))


POLICY = Policy(
    id=ID,
    summary="warn when an MCPServer has more backend replicas than proxy pods to use them",
    phase=Phase.VALIDATE,
    kinds=frozenset({"MCPServer"}),
    operations=frozenset({"CREATE", "UPDATE"}),
    evaluate=evaluate,
    settings=PolicySettings,
)
