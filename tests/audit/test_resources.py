"""What the audit reads, and the ClusterRole that lets it: the same resources, read-only. No cluster."""

from __future__ import annotations

from pathlib import Path

import yaml

from mcp_admission.audit.mode import GROUP
from mcp_admission.audit.mode import KINDS as MODE_KINDS
from mcp_admission.audit.resources import BUILT_IN, policy_kinds
from mcp_admission.policies import ALL_POLICIES
from mcp_admission.policies.engine.workloads import CORE_KINDS, MCP_RESOURCE_KINDS, TOOLHIVE_GROUP

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "deploy" / "base" / "rbac-audit.yaml"


def test_every_kind_a_policy_reads_can_be_listed() -> None:
    assert policy_kinds(ALL_POLICIES) <= BUILT_IN.keys() | MCP_RESOURCE_KINDS
    # The built-in kinds are exactly those the engine recognises as workloads, in their own groups.
    assert {(r.group, kind) for kind, r in BUILT_IN.items()} == CORE_KINDS


def test_the_cluster_role_grants_get_and_list_on_exactly_what_the_audit_may_read(toolhive: Path) -> None:
    plurals = {}
    for path in (toolhive / "crds").glob("*.yaml"):
        names = yaml.safe_load(path.read_text())["spec"]["names"]
        plurals[names["kind"]] = names["plural"]
    readable = {(r.group, r.plural) for r in BUILT_IN.values()}
    readable |= {(TOOLHIVE_GROUP, plurals[kind]) for kind in MCP_RESOURCE_KINDS}

    (role,) = list(yaml.safe_load_all(ROLE.read_text()))
    assert (role["kind"], role["metadata"]["name"]) == ("ClusterRole", "mcp-admission-audit")
    granted: dict[tuple[str, ...], set[tuple[str, str]]] = {}
    for rule in role["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, rule
        pairs = {(group, resource) for group in rule["apiGroups"] for resource in rule["resources"]}
        granted.setdefault(tuple(rule["verbs"]), set()).update(pairs)
    # The workloads it decides: get and list. Which admission runs (its first line): list, nothing more.
    modes = {(GROUP.removeprefix("apis/").split("/")[0], r) for rs in MODE_KINDS.values() for r in rs}
    assert granted == {("get", "list"): readable, ("list",): modes}
