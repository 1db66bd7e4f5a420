"""statefulset-dns: an MCP StatefulSet names its headless Service, so each pod gets a DNS name.

Only one that gets that Service (engine/backend.py decides, for the reconciler too): never stdio.
`spec.serviceName` is immutable: on CREATE we set it; on UPDATE we only keep a good value from
being undone (GitOps tools and ToolHive re-apply the original manifest) and otherwise explain.
"""

from __future__ import annotations

from typing import Annotated

from mcp_admission.names import service_name
from mcp_admission.policies.engine.backend import backend_selector
from mcp_admission.policies.engine.model import (
    NO_OUTCOME,
    Finding,
    Operation,
    Outcome,
    Phase,
    Request,
    mapping,
)
from mcp_admission.policies.engine.patch import set_value
from mcp_admission.policies.engine.policy import Policy
from mcp_admission.policies.engine.settings import PolicySettings
from mcp_admission.policies.engine.workloads import Workload
from mcp_admission.records import Check, record

ID = "statefulset-dns"
INVALID_NAME = "name gives no valid headless Service name; set serviceName"


def _makes_service_names(pattern: str) -> str:
    if pattern.count("{name}") != 1 or "{" in pattern.replace("{name}", ""):
        raise ValueError("must contain '{name}' exactly once and no other '{...}'")
    if service_name(pattern, "x") is None:
        raise ValueError("must give a valid Service name (DNS-1035 label) for a name like 'x'")
    return pattern


@record
class StatefulSetDNSSettings(PolicySettings):
    service_name_pattern: Annotated[str, Check(_makes_service_names)] = "mcp-{name}-headless"


def headless_service_name(statefulset_name: str, settings: StatefulSetDNSSettings) -> str | None:
    """The headless Service an MCP StatefulSet should name; None when that is no valid Service name."""
    return service_name(settings.service_name_pattern, statefulset_name)


def _service_name(obj: object) -> object:
    return mapping(mapping(obj).get("spec")).get("serviceName")


def evaluate(request: Request, workload: Workload, settings: StatefulSetDNSSettings) -> Outcome:
    want = headless_service_name(workload.name, settings)
    current = _service_name(request.object)
    old = _service_name(request.old_object) if request.operation == Operation.UPDATE else None
    if want is not None and old == want != current:
        # The update undoes our value: the apiserver would refuse it (immutable field). Put it back,
        # whatever the StatefulSet is now (a stdio one named before stdio was left alone, say).
        patch = set_value(request.object, ("spec", "serviceName"), want)
        return Outcome(patch, (Finding(ID, f"kept serviceName {want}: it is immutable", fixed=True),))
    selector = backend_selector(request.object, workload)
    if selector is None:  # stdio: no headless Service will ever exist, so there is none to name
        return NO_OUTCOME
    if isinstance(selector, str):
        return Outcome(findings=(Finding(ID, f"no pod DNS: {selector}"),))
    if want is None:
        return Outcome(findings=(Finding(ID, INVALID_NAME),))
    if request.operation == Operation.CREATE:
        if current == want:
            return NO_OUTCOME
        patch = set_value(request.object, ("spec", "serviceName"), want)
        return Outcome(patch, (Finding(ID, f"serviceName set to {want} for pod DNS", fixed=True),))
    if current == old == want:
        return NO_OUTCOME
    problem = "serviceName is immutable (update refused)" if current != old else "no pod DNS"
    advice = f"{problem}; recreate: kubectl delete sts --cascade=orphan, re-apply"
    return Outcome(findings=(Finding(ID, advice),))


POLICY = Policy(
    id=ID,
    summary="MCP StatefulSets (not stdio) get serviceName mcp-<name>-headless (pod DNS); kept on re-apply",
    phase=Phase.MUTATE,
    kinds=frozenset({"StatefulSet"}),
    operations=frozenset({"CREATE", "UPDATE"}),
    evaluate=evaluate,
    settings=StatefulSetDNSSettings,
)
