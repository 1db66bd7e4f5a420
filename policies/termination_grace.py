"""termination-grace: a stopping MCP pod needs time to end its streams before it is killed.

The pod templates of MCP workloads keep terminationGracePeriodSeconds at or above a minimum. An
absent value is left alone: the apiserver defaults it to 30 on a StatefulSet's or Deployment's
template before any webhook runs (so there it never arrives absent), and ToolHive's podTemplateSpec
is a raw PodTemplateSpec (x-kubernetes-preserve-unknown-fields) whose absent value ToolHive leaves to
that same default.
"""

from __future__ import annotations

from typing import Annotated

from mcp_admission.policies.engine.model import NO_OUTCOME, Finding, Outcome, Phase, Request, mapping
from mcp_admission.policies.engine.patch import set_value
from mcp_admission.policies.engine.policy import Policy, int_field
from mcp_admission.policies.engine.settings import Mode, PolicySettings
from mcp_admission.policies.engine.workloads import Workload
from mcp_admission.records import Bounds, record

ID = "termination-grace"
FIELD = "terminationGracePeriodSeconds"
# Where each kind keeps the pod spec it runs (the ToolHive CRDs, v1alpha1 and v1beta1 alike).
POD_SPECS = {
    "StatefulSet": ("spec", "template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "MCPServer": ("spec", "podTemplateSpec", "spec"),
    "MCPRemoteProxy": ("spec", "podTemplateSpec", "spec"),
    "VirtualMCPServer": ("spec", "podTemplateSpec", "spec"),
}
REASON = "so a stopping pod can end its MCP streams"


@record
class TerminationGraceSettings(PolicySettings):
    # 30: the apiserver's default and what ToolHive gives its own proxies. At least 1 (0 would mean
    # "off": say mode: off). At most an hour: pods stop one at a time in a rollout, so a larger minimum
    # is likelier a slip (minutes typed as seconds) than a plan; a workload can still ask for more.
    min_seconds: Annotated[int, Bounds(ge=1, le=3600)] = 30


def evaluate(request: Request, workload: Workload, settings: TerminationGraceSettings) -> Outcome:
    path = POD_SPECS[workload.kind]
    pod_spec = request.object
    for token in path:
        pod_spec = mapping(pod_spec).get(token)
    seconds = int_field(mapping(pod_spec).get(FIELD))
    minimum = settings.min_seconds
    if seconds is None or seconds >= minimum:  # absent or not an integer: never raised
        return NO_OUTCOME
    if settings.mode is Mode.ENFORCE:
        # Enforce denies instead of raising: the author said how long, so the author must change it.
        return Outcome(findings=(Finding(ID, f"{FIELD} must be >= {minimum} {REASON}"),))
    patch = set_value(request.object, (*path, FIELD), minimum)
    return Outcome(patch, (Finding(ID, f"{FIELD} {seconds} -> {minimum} {REASON}", fixed=True),))


POLICY = Policy(
    id=ID,
    summary="MCP pod templates keep terminationGracePeriodSeconds at or above a minimum (default 30 s)",
    phase=Phase.MUTATE,
    kinds=frozenset(POD_SPECS),
    operations=frozenset({"CREATE", "UPDATE"}),
    evaluate=evaluate,
    settings=TerminationGraceSettings,
)
