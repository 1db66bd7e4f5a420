"""The apiserver's admission sequence, offline: mutate, apply the patch, then validate the result.

The validating webhook sees the object as mutated, so `check` and `audit` must too (a stdio MCPServer
capped to one replica no longer needs a session-storage warning).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mcp_admission.policies.engine.config import EngineConfig
from mcp_admission.policies.engine.decide import clean_warnings, evaluate, workload_of
from mcp_admission.policies.engine.model import ALLOW, JSON, Decision, Phase, Request
from mcp_admission.policies.engine.patch import apply
from mcp_admission.policies.engine.policy import Policy
from mcp_admission.policies.engine.workloads import Workload


def admit(request: Request, config: EngineConfig, policies: Sequence[Policy[Any]]) -> tuple[Decision, JSON]:
    """Both webhooks' decisions as one, and the object as the apiserver would store it."""
    workload = workload_of(request, config)
    if workload is None:
        return ALLOW, request.object
    return admit_workload(request, workload, config, policies)


def admit_workload(
    request: Request, workload: Workload, config: EngineConfig, policies: Sequence[Policy[Any]]
) -> tuple[Decision, JSON]:
    """`admit` for a request already recognised as being about `workload` (workload_of)."""
    # Our policies never patch labels or annotations, so the workload recognised once holds for both.
    mutation = evaluate(request, workload, config, policies, Phase.MUTATE)
    if not mutation.allowed:
        return mutation, request.object
    mutated = apply(request.object, mutation.patch)
    validated = request._replace(object=mutated)
    validation = evaluate(validated, workload, config, policies, Phase.VALIDATE)
    decision = Decision(
        patch=mutation.patch,
        warnings=clean_warnings(mutation.warnings + validation.warnings),
        denial=validation.denial,
        errors=mutation.errors + validation.errors,
    )
    return decision, mutated
