"""What the engine reads of a configuration: the catalogue's PolicyConfig is one (policies/registry.py).

A Protocol, so the engine names what it needs without knowing which policies exist: the catalogue above
it builds the configuration with a section per registered policy.
"""

from __future__ import annotations

from typing import Protocol

from mcp_admission.policies.engine.policy import Policy, S
from mcp_admission.policies.engine.settings import ToolHiveSettings, WorkloadSettings


class EngineConfig(Protocol):
    @property
    def excluded_namespaces(self) -> frozenset[str]: ...

    @property
    def workloads(self) -> WorkloadSettings: ...

    @property
    def toolhive(self) -> ToolHiveSettings: ...

    def settings(self, policy: Policy[S]) -> S:
        """One policy's own settings (its defaults when the configuration has no section for it)."""
        ...
