"""Who the audit runs as: a kubeconfig's context, a ServiceAccount bound only to the shipped ClusterRole,
and what it says when it cannot read (exit 2, naming the permission or the problem)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import EXISTING_KUBECONFIG
from tests.e2e.cluster import service_account_kubeconfig
from tests.e2e.harness import find, render
from tests.support import free_port

from .conftest import FINDINGS, Scenario, audit, decisions, entries, unique

pytestmark = pytest.mark.cluster


def test_a_context_other_than_the_current_one(scenario: Scenario, tmp_path: Path) -> None:
    kubeconfig = yaml.safe_load(scenario.plane.kubeconfig.read_text())
    ours = next(c for c in kubeconfig["contexts"] if c["name"] == kubeconfig["current-context"])
    (cluster,) = [c for c in kubeconfig["clusters"] if c["name"] == ours["context"]["cluster"]]
    down = {**cluster["cluster"], "server": f"https://127.0.0.1:{free_port()}"}  # nothing listens
    kubeconfig["clusters"].append({"name": "down", "cluster": down})
    kubeconfig["users"].append({"name": "stranger", "user": {"token": "not-a-token"}})
    kubeconfig["contexts"] += [
        {"name": "down", "context": {**ours["context"], "cluster": "down"}},
        {"name": "stranger", "context": {**ours["context"], "user": "stranger"}},
    ]
    kubeconfig["current-context"] = "down"
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    ns = scenario.audited

    def run(*args: str) -> tuple[int, str]:
        result = audit("--config", scenario.config, "-n", ns, "-o", "json", *args, kubeconfig=path)
        return result.code, result.stderr

    code, stderr = run()
    assert code == 2 and "no answer from the apiserver" in stderr, stderr
    chosen = audit(
        "--config", scenario.config, "-n", ns, "-o", "json", "--context", ours["name"], kubeconfig=path
    )
    assert chosen.code == 0, chosen.stderr
    assert decisions(entries(chosen.stdout, ns)) == decisions(
        entries(scenario.run("-n", ns, "-o", "json").stdout, ns)
    )
    code, stderr = run("--context", "stranger")
    assert code == 2 and "401 Unauthorized" in stderr, stderr
    code, stderr = run("--context", "nowhere")
    assert code == 2 and "nowhere" in stderr, stderr
    missing = audit("-n", ns, kubeconfig=tmp_path / "missing")
    assert missing.code == 2 and "no usable Kubernetes client configuration" in missing.stderr


@pytest.mark.skipif(bool(EXISTING_KUBECONFIG), reason="needs the token Secrets of the v1.20 control plane")
def test_the_shipped_cluster_role_is_all_it_needs(scenario: Scenario, tmp_path: Path) -> None:
    kubectl, ns = scenario.kubectl, scenario.audited
    (role,) = find(render("base"), "ClusterRole", "mcp-admission-audit")
    # The same role without statefulsets: what a missing permission looks like.
    partial = json.loads(json.dumps(role))
    partial["metadata"]["name"] = unique("audit-partial")
    for rule in partial["rules"]:
        rule["resources"] = [r for r in rule["resources"] if r != "statefulsets"]
    kubectl(
        "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": [role, partial]})
    )
    # account -> (how it is bound, to which role): cluster-wide, or in the audited namespace only
    accounts = {
        "auditor": ("clusterrolebinding", role),
        "half-auditor": ("clusterrolebinding", partial),
        "ns-auditor": ("rolebinding", role),
    }
    bindings = {account: unique("audit-test") for account in accounts}
    try:
        kubeconfigs = {}
        for account, (binding, granted) in accounts.items():
            kubectl("create", "serviceaccount", account, "-n", ns)
            name, subject = granted["metadata"]["name"], f"--serviceaccount={ns}:{account}"
            kubectl("create", binding, bindings[account], "-n", ns, "--clusterrole", name, subject)
            kubeconfigs[account] = service_account_kubeconfig(
                kubectl, scenario.plane.env, account, tmp_path / f"{account}.kubeconfig", namespace=ns
            )

        full = audit("--config", scenario.config, "-o", "json", kubeconfig=kubeconfigs["auditor"])
        assert full.code == 0, full.stderr
        everything = entries(scenario.run("-o", "json").stdout, ns)
        assert decisions(entries(full.stdout, ns)) == decisions(everything)

        half = audit("--config", scenario.config, "-o", "json", kubeconfig=kubeconfigs["half-auditor"])
        assert half.code == 2
        assert 'cannot list resource "statefulsets" in API group "apps"' in half.stderr, half.stderr
        assert "mcp-admission-audit" in half.stderr  # where to get it
        # Everything it could read is still reported.
        readable = {key: e for key, e in everything.items() if key[0] != "StatefulSet"}
        assert decisions(entries(half.stdout, ns)) == decisions(readable)
        assert {k for k in FINDINGS if k[0] != "StatefulSet"} <= set(readable)

        # Bound in one namespace: `-n` there needs nothing cluster-wide (discovery is open to all).
        one = audit("--config", scenario.config, "-n", ns, "-o", "json", kubeconfig=kubeconfigs["ns-auditor"])
        assert one.code == 0, one.stderr
        assert decisions(entries(one.stdout, ns)) == decisions(everything)
        everywhere = audit("--config", scenario.config, kubeconfig=kubeconfigs["ns-auditor"])
        assert everywhere.code == 2 and "at the cluster scope" in everywhere.stderr
    finally:
        kubectl("delete", "clusterrolebinding", *bindings.values(), "--ignore-not-found", check=False)
        roles = (role["metadata"]["name"], partial["metadata"]["name"])
        kubectl("delete", "clusterrole", *roles, "--ignore-not-found", check=False)
