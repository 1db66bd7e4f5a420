"""mcp-admission's policies: pure decisions about MCP workloads (see docs/policies.md).

Two layers: the engine (engine/) takes policies and a configuration as input and knows none by name;
the catalogue above it (each policy in a file of its own, registry.py listing them, catalogue.py binding
them to the engine) is what the adapters use. Adapters import only this package's public names below;
each policy's own module is one (its ID, POLICY and settings, for whatever mirrors one policy: deploy's
CEL, the reconciler's stdio scale-back); registry.py imports each, which makes it this package's attribute.
"""

from mcp_admission.policies.backend_services import BackendServices, backend_services, service_names
from mcp_admission.policies.catalogue import admit, admit_workload, decide
from mcp_admission.policies.engine import EngineConfig
from mcp_admission.policies.engine.backend import (
    BACKEND_SERVICE_PREFIX,
    HEADLESS_SUFFIX,
    MATCH_EXPRESSIONS,
    MAX_SELECTOR_LABELS,
    NO_MATCH_LABELS,
    TOO_MANY_LABELS,
)
from mcp_admission.policies.engine.decide import clean_warnings, warning_text, workload_of
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
    mapping,
)
from mcp_admission.policies.engine.patch import apply, pointer_tokens, set_value
from mcp_admission.policies.engine.policy import Policy
from mcp_admission.policies.engine.settings import (
    LabelSelectorRequirement,
    Mode,
    PolicySettings,
    WorkloadSelector,
)
from mcp_admission.policies.engine.workloads import (
    API_RESOURCES,
    APP_NAME_LABEL,
    CORE_KINDS,
    MAX_OWNER_REFERENCES,
    MAX_SKIP_LENGTH,
    MCP_RESOURCE_KINDS,
    SKIP_ANNOTATION,
    SPACES,
    TOOLHIVE_APP_NAMES,
    TOOLHIVE_GROUP,
    TOOLHIVE_LABEL,
    TOOLHIVE_TRANSPORT_LABEL,
    TOOLHIVE_VERSIONS,
    TRANSPORT_LABEL,
    ApiResource,
    Workload,
)
from mcp_admission.policies.registry import ALL_POLICIES, POLICY_IDS, PolicyConfig

__all__ = [
    "ALLOW",
    "ALL_POLICIES",
    "API_RESOURCES",
    "APP_NAME_LABEL",
    "BACKEND_SERVICE_PREFIX",
    "CORE_KINDS",
    "HEADLESS_SUFFIX",
    "JSON",
    "MATCH_EXPRESSIONS",
    "MAX_OWNER_REFERENCES",
    "MAX_SELECTOR_LABELS",
    "MAX_SKIP_LENGTH",
    "MCP_RESOURCE_KINDS",
    "NO_MATCH_LABELS",
    "POLICY_IDS",
    "SKIP_ANNOTATION",
    "SPACES",
    "TOOLHIVE_APP_NAMES",
    "TOOLHIVE_GROUP",
    "TOOLHIVE_LABEL",
    "TOOLHIVE_TRANSPORT_LABEL",
    "TOOLHIVE_VERSIONS",
    "TOO_MANY_LABELS",
    "TRANSPORT_LABEL",
    "ApiResource",
    "BackendServices",
    "Decision",
    "EngineConfig",
    "Finding",
    "LabelSelectorRequirement",
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
    "Workload",
    "WorkloadSelector",
    "admit",
    "admit_workload",
    "affinity_with_redis",
    "apply",
    "backend_affinity",
    "backend_services",
    "clean_warnings",
    "decide",
    "mapping",
    "pointer_tokens",
    "service_names",
    "session_affinity",
    "session_storage",
    "set_value",
    "statefulset_dns",
    "stdio_replicas",
    "termination_grace",
    "warning_text",
    "workload_of",
]
