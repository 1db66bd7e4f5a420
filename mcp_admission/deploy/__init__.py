"""The webhook configurations deploy/ ships, rendered from the configuration file by code.

`conditions` turns the engine's recognition of MCP workloads (policies/engine/workloads.py and the
configuration's `workloads:`) into the CEL `matchConditions` the apiserver evaluates before it calls the
webhook; `configurations` builds both webhook configurations around them (rules from the registered
policies, namespaces from `excludedNamespaces`) and prints them as `mcp-admission webhooks` does;
`admission_policies` renders the policies themselves as Mutating/ValidatingAdmissionPolicies (1.36+).
"""

from mcp_admission.deploy.configurations import Names, render, webhook_configurations

__all__ = ["Names", "render", "webhook_configurations"]
