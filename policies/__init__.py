"""mcp-admission's policy engine: pure decisions about MCP workloads (see docs/policies.md).

The engine is in engine/, each policy in a file of its own, and registry.py lists them.
"""

from mcp_admission.policies.engine.decide import clean_warnings, decide, evaluate, warning_text, workload_of
from mcp_admission.policies.engine.model import (
    ALLOW,
    JSON,
    Decision,
    Finding,
    Operation,
    Outcome,
    PatchOp,
    Phase,
    PolicyError,
    Request,
)
from mcp_admission.policies.engine.policy import Policy
from mcp_admission.policies.engine.settings import Mode, PolicySettings
from mcp_admission.policies.registry import ALL_POLICIES, POLICY_IDS, PolicyConfig

__all__ = [
    "ALLOW",
    "ALL_POLICIES",
    "JSON",
    "POLICY_IDS",
    "Decision",
    "Finding",
    "Mode",
    "Operation",
    "Outcome",
    "PatchOp",
    "Phase",
    "Policy",
    "PolicyConfig",
    "PolicyError",
    "PolicySettings",
    "Request",
    "clean_warnings",
    "decide",
    "evaluate",
    "warning_text",
    "workload_of",
]
