"""Where a policy is registered: once, in ALL_POLICIES. Its settings section follows from its record.

PolicyConfig is everything the engine reads: `policies:` (one section per registered policy, by ID,
with that policy's own settings model), `workloads:` and `excludedNamespaces:`.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import Field, create_model

from mcp_admission.models import Model
from mcp_admission.policies import (
    affinity_with_redis,
    backend_affinity,
    session_affinity,
    session_storage,
    statefulset_dns,
    stdio_replicas,
    termination_grace,
)
from mcp_admission.policies.engine.policy import Policy, S
from mcp_admission.policies.engine.settings import Mode, WorkloadSettings

ALL_POLICIES: tuple[Policy[Any], ...] = (
    session_affinity.POLICY,
    statefulset_dns.POLICY,
    stdio_replicas.POLICY,
    session_storage.POLICY,
    affinity_with_redis.POLICY,
    backend_affinity.POLICY,
    termination_grace.POLICY,
)
POLICY_IDS = tuple(p.id for p in ALL_POLICIES)

if TYPE_CHECKING:
    PolicySections = Model  # built below at run time; read through PolicyConfig.settings()
else:
    PolicySections = create_model(
        "PolicySections",
        __base__=Model,
        **{p.field: (p.settings, Field(default_factory=p.settings, alias=p.id)) for p in ALL_POLICIES},
    )


class PolicyConfig(Model):
    """Everything the engine reads. The configuration file is a superset (see mcp_admission.cli.config)."""

    policies: PolicySections = Field(default_factory=PolicySections)
    workloads: WorkloadSettings = Field(default_factory=WorkloadSettings)
    excluded_namespaces: frozenset[str] = frozenset({"kube-system"})

    def settings(self, policy: Policy[S]) -> S:
        """One policy's own settings; a policy not in ALL_POLICIES (an embedder's) runs on its defaults."""
        value: S | None = getattr(self.policies, policy.field, None)
        return policy.settings() if value is None else value

    @cached_property
    def modes(self) -> dict[str, Mode]:
        """Policy ID → mode, for the engine's loop."""
        return {p.id: self.settings(p).mode for p in ALL_POLICIES}
