"""The engine's entry points with the registered policies bound: what the adapters call.

The engine (engine/) takes the policies as input and knows none by name; this is where the catalogue
hands it ALL_POLICIES. `policies` stays open for a caller that runs a subset (the webhook's endpoints,
one phase each; the reconciler's stdio-replicas) or more (tests, embedders).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mcp_admission.policies import engine
from mcp_admission.policies.engine.model import JSON, Decision, Phase, Request
from mcp_admission.policies.engine.policy import Policy
from mcp_admission.policies.engine.workloads import Workload
from mcp_admission.policies.registry import ALL_POLICIES, PolicyConfig


def decide(
    request: Request,
    config: PolicyConfig,
    phase: Phase | None = None,
    *,
    policies: Sequence[Policy[Any]] = ALL_POLICIES,
) -> Decision:
    """The decision for one request; `phase` keeps only the mutating or the validating policies."""
    return engine.decide(request, config, policies, phase)


def admit(
    request: Request, config: PolicyConfig, policies: Sequence[Policy[Any]] = ALL_POLICIES
) -> tuple[Decision, JSON]:
    """Both webhooks' decisions as one, and the object as the apiserver would store it."""
    return engine.admit(request, config, policies)


def admit_workload(
    request: Request, workload: Workload, config: PolicyConfig, policies: Sequence[Policy[Any]] = ALL_POLICIES
) -> tuple[Decision, JSON]:
    """`admit` for a request already recognised as being about `workload` (workload_of)."""
    return engine.admit_workload(request, workload, config, policies)
