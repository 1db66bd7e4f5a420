"""Where a policy is registered: once, in ALL_POLICIES. Its settings section follows from its record.

PolicyConfig is the policies' part of the configuration file: `policies:` (one section per registered
policy, by ID, with that policy's own settings record), `workloads:`, `excludedNamespaces:` and
`toolhive:`. It is the engine's EngineConfig (engine/config.py), which names no policy.
"""

from __future__ import annotations

from dataclasses import field, make_dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

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
from mcp_admission.policies.engine.settings import Mode, ToolHiveSettings, WorkloadSettings
from mcp_admission.records import RECORD_CONFIG, record

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


def _policy_id(field_name: str) -> str:
    """A section's key in the file: the inverse of Policy.field."""
    return field_name.replace("_", "-")


if TYPE_CHECKING:

    @record
    class PolicySections:  # built below at run time; read through PolicyConfig.settings()
        pass

else:
    PolicySections = make_dataclass(
        "PolicySections",
        [(p.field, p.settings, field(default_factory=p.settings)) for p in ALL_POLICIES],
        # A record (mcp_admission.records) whose keys in the file are the policy IDs.
        namespace={"__pydantic_config__": {**RECORD_CONFIG, "alias_generator": _policy_id}},
        frozen=True,
        kw_only=True,
    )


@record
class PolicyConfig:
    """The policies' configuration, an EngineConfig. The file is a superset (see mcp_admission.cli.config)."""

    policies: PolicySections = field(default_factory=PolicySections)
    workloads: WorkloadSettings = field(default_factory=WorkloadSettings)
    excluded_namespaces: frozenset[str] = frozenset({"kube-system"})
    toolhive: ToolHiveSettings = field(default_factory=ToolHiveSettings)

    def settings(self, policy: Policy[S]) -> S:
        """One policy's own settings; a policy not in ALL_POLICIES (an embedder's) runs on its defaults."""
        value: S | None = getattr(self.policies, policy.field, None)
        return policy.settings() if value is None else value

    @cached_property
    def modes(self) -> dict[str, Mode]:
        """Policy ID → mode of every registered policy (the admission policies' renderer reads them)."""
        return {p.id: self.settings(p).mode for p in ALL_POLICIES}
