"""mcp-admission's policy engine: pure decisions about MCP workloads (see docs/policies.md)."""

from .admission import admit
from .defaults import with_server_defaults
from .engine import ALL_POLICIES, POLICY_IDS, clean_warnings, decide, warning_text
from .model import ALLOW, JSON, Decision, Finding, Operation, Outcome, PatchOp, Phase, PolicyError, Request
from .settings import Mode, PolicyConfig

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
    "PolicyConfig",
    "PolicyError",
    "Request",
    "admit",
    "clean_warnings",
    "decide",
    "warning_text",
    "with_server_defaults",
]
