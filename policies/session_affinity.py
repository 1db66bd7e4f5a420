"""session-affinity: MCP Services route a client to one pod, so its session stays where it was made.

Never on a Service whose controller is a ToolHive resource: ToolHive's operator writes that Service's
sessionAffinity from the resource's own spec.sessionAffinity on every reconcile and Updates it back when
they differ (cmd/thv-operator/controllers/mcpserver_controller.go, serviceNeedsUpdate; the same for
MCPRemoteProxy and VirtualMCPServer). Overriding it would be one write per reconcile, forever; what we
have to say about that choice is said on the resource (affinity-with-redis).
"""

from __future__ import annotations

from typing import Annotated

from mcp_admission.policies.engine.model import NO_OUTCOME, Finding, Outcome, Phase, Request, mapping
from mcp_admission.policies.engine.patch import set_members
from mcp_admission.policies.engine.policy import Policy
from mcp_admission.policies.engine.settings import PolicySettings
from mcp_admission.policies.engine.workloads import (
    MAX_OWNER_REFERENCES,
    TOOLHIVE_GROUP,
    Workload,
)
from mcp_admission.records import Bounds, record

ID = "session-affinity"


@record
class SessionAffinitySettings(PolicySettings):
    # ToolHive's own sticky Service uses 1800 s; the apiserver's default for ClientIP is 10800 s.
    timeout_seconds: Annotated[int, Bounds(gt=0, le=86400)] = 1800


def is_headless(spec: dict[str, object]) -> bool:
    ips = spec.get("clusterIPs")
    return spec.get("clusterIP") == "None" or (isinstance(ips, list) and ips[:1] == ["None"])


def controlled_by_toolhive(metadata: dict[str, object]) -> bool:
    """The object's controller (the one ownerReference with controller: true) is a ToolHive resource.
    More than MAX_OWNER_REFERENCES references are not read (the admission policies' CEL loops only up to
    that bound): such a Service is left to its owners, as if controlled."""
    refs = metadata.get("ownerReferences")
    if isinstance(refs, list) and len(refs) > MAX_OWNER_REFERENCES:
        return True
    for ref in refs if isinstance(refs, list) else ():
        ref = mapping(ref)
        api_version = ref.get("apiVersion")
        if ref.get("controller") is True and isinstance(api_version, str):
            return api_version.partition("/")[0] == TOOLHIVE_GROUP
    return False


def evaluate(request: Request, workload: Workload, settings: SessionAffinitySettings) -> Outcome:
    obj = request.object
    spec = obj.get("spec")
    if not isinstance(spec, dict):  # no Service passes validation without one: nothing to default
        return NO_OUTCOME
    # The owner's setting is the truth (see the module's docstring).
    if controlled_by_toolhive(mapping(obj.get("metadata"))):
        return NO_OUTCOME
    # Headless: the apiserver ignores affinity there (and warns); ExternalName: it means nothing.
    if spec.get("type") == "ExternalName" or is_headless(spec):
        return NO_OUTCOME
    # The apiserver has defaulted an absent sessionAffinity to None before we are called.
    if spec.get("sessionAffinity") == "ClientIP":
        return NO_OUTCOME
    timeout = settings.timeout_seconds
    patch = set_members(
        obj,
        ("spec",),
        {"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": timeout}}},
    )
    message = f"set sessionAffinity ClientIP ({timeout}s) so MCP sessions stay on one pod"
    return Outcome(patch, (Finding(ID, message, fixed=True),))


POLICY = Policy(
    id=ID,
    summary="MCP Services get sessionAffinity ClientIP (not headless, ExternalName or ToolHive-controlled)",
    phase=Phase.MUTATE,
    kinds=frozenset({"Service"}),
    operations=frozenset({"CREATE", "UPDATE"}),
    evaluate=evaluate,
    settings=SessionAffinitySettings,
)
