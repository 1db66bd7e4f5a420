"""`mcp-admission audit` against a real kube-apiserver: what it reports for objects the webhook never saw,
in every format, with its exit codes, and that it writes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET

import jsonpatch
import pytest

from mcp_admission.audit.lister import pages
from mcp_admission.kube import Kube, api_client
from tests.check.runner import check, console_script
from tests.e2e.harness import Obj

from .conftest import CLEAN, FINDINGS, Scenario, decisions, entries, live, unique

pytestmark = pytest.mark.cluster


def policies(entry: Obj) -> list[str]:
    return [w["policy"] for w in entry["warnings"]]


def test_each_finding_is_reported_with_its_fix(scenario: Scenario) -> None:
    ns = scenario.audited
    run = scenario.run("-n", ns, "-o", "json")
    assert run.code == 0, run.stderr
    found = entries(run.stdout, ns)
    assert set(found) == set(FINDINGS) | CLEAN  # MCP workloads only: no Service plain, StatefulSet db
    stored = {(o["kind"], o["metadata"]["name"]): o for o in live(scenario.kubectl, ns)}
    for key, (ids, fixed) in FINDINGS.items():
        entry = found[key]
        assert entry["operation"] == "UPDATE" and entry["denial"] is None, entry
        assert policies(entry) == ids, entry
        # The patch is the fix: applied to the object as stored, it sets what the policy wants.
        patched = jsonpatch.apply_patch(stored[key], entry["patch"])
        assert {pointer: jsonpatch.JsonPointer(pointer).resolve(patched) for pointer in fixed} == fixed
        assert bool(entry["patch"]) == bool(fixed), entry
    assert "kubectl delete sts" in found[("StatefulSet", "search")]["warnings"][0]["message"]
    for key in CLEAN:
        assert (found[key]["patch"], found[key]["warnings"], found[key]["denial"]) == ([], [], None), key
    # Where each was read: the list's apiserver path (no file, no line); MCPServers once, at v1beta1.
    assert (
        found[("MCPServer", "legacy")]["file"]
        == f"apis/toolhive.stacklok.dev/v1beta1/namespaces/{ns}/mcpservers"
    )
    assert found[("MCPServer", "legacy")]["apiVersion"] == "toolhive.stacklok.dev/v1beta1"
    assert found[("Service", "mcp-notes-proxy")]["file"] == f"api/v1/namespaces/{ns}/services"
    assert {e["line"] for e in found.values()} == {None}


def test_it_decides_as_check_decides_an_update_of_each_object_to_itself(scenario: Scenario) -> None:
    ns = scenario.audited
    objects = scenario.work / "live.json"
    objects.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": live(scenario.kubectl, ns)}))
    checked = check("-f", objects, "--old", objects, "-o", "json", "--config", scenario.config)
    assert checked.code == 0, checked.stderr
    expected = {
        (e["kind"], e["name"]): e for e in checked.json() if (e["kind"], e["name"]) in FINDINGS.keys() | CLEAN
    }
    audited = entries(scenario.run("-n", ns, "-o", "json").stdout, ns)
    fields = ("operation", "patch", "warnings", "denial", "errors")
    assert {k: [e[f] for f in fields] for k, e in audited.items()} == {
        k: [e[f] for f in fields] for k, e in expected.items()
    }


def test_text_names_each_object_and_where_it_was_listed(scenario: Scenario) -> None:
    ns = scenario.audited
    run = scenario.run("-n", ns)
    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    services, statefulsets = f"api/v1/namespaces/{ns}/services", f"apis/apps/v1/namespaces/{ns}/statefulsets"
    patch = "patch: replace /spec/sessionAffinity, add /spec/sessionAffinityConfig"
    assert f"{services} Service/{ns}/mcp-notes-proxy {patch}" in lines
    assert any(line.startswith(f"{statefulsets} StatefulSet/{ns}/search statefulset-dns: ") for line in lines)
    assert not any("/calm" in line or "/steady" in line or "/plain" in line for line in lines)
    patched = sum(1 for _, fixed in FINDINGS.values() if fixed)
    warnings = sum(len(ids) for ids, _ in FINDINGS.values())
    total = len(FINDINGS) + len(CLEAN)
    assert (
        lines[-1]
        == f"{total} objects checked: {patched} patched, {warnings} warnings, 0 denied, 0 input errors"
    )
    assert "\r" not in run.stderr  # no terminal: no progress line
    assert f"objects read in namespace {ns}" in run.stderr


def test_sarif_and_junit_in_one_run(scenario: Scenario) -> None:
    ns = scenario.audited
    sarif, junit = scenario.work / "audit.sarif", scenario.work / "audit.xml"
    run = scenario.run("-n", ns, "--strict", "-o", f"sarif={sarif}", "-o", f"junit={junit}", "-o", "text")
    assert run.code == 1, run.stderr  # --strict: warnings fail
    assert run.stdout.splitlines()[-1].endswith("(--strict: warnings fail)")

    (results,) = [r["results"] for r in json.loads(sarif.read_text())["runs"]]
    assert sorted(r["ruleId"] for r in results) == sorted(i for ids, _ in FINDINGS.values() for i in ids)
    assert {r["level"] for r in results} == {"error"}
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"] for r in results for loc in r["locations"]}
    assert f"api/v1/namespaces/{ns}/services" in uris

    root = ET.fromstring(junit.read_text())
    assert root.get("name") == "mcp-admission audit"
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert set(cases) == {f"{kind}/{ns}/{name}" for kind, name in FINDINGS.keys() | CLEAN}
    failed = {name for name, case in cases.items() if case.find("failure") is not None}
    assert failed == {f"{kind}/{ns}/{name}" for (kind, name), (ids, _) in FINDINGS.items() if ids}
    assert all(case.get("line") is None for case in cases.values())


def test_exit_codes(scenario: Scenario) -> None:
    ns = scenario.audited
    # As a process: the exit codes are what the console script returns.
    assert scenario.run("-n", ns, process=True).code == 0  # warn mode: findings, but nothing fails the run
    assert scenario.run("-n", ns, "--strict", process=True).code == 1
    enforced = scenario.run("-n", ns, "-o", "json", config=scenario.enforcing, process=True)
    assert enforced.code == 1, enforced.stderr
    search = entries(enforced.stdout, ns)[("StatefulSet", "search")]
    assert search["denial"]["policy"] == "statefulset-dns" and search["patch"] == []
    bad = scenario.work / "bad.yaml"
    bad.write_text("policies: {stdio-replicas: {mode: sometimes}}\n")
    unusable = scenario.run("-n", ns, config=bad, process=True)
    assert unusable.code == 2 and "stdio-replicas" in unusable.stderr and unusable.stdout == ""


def test_all_namespaces_but_the_excluded_ones(scenario: Scenario) -> None:
    everywhere = scenario.run("-o", "json")
    assert everywhere.code == 0, everywhere.stderr
    one = scenario.run("-n", scenario.audited, "-o", "json")
    assert decisions(entries(everywhere.stdout, scenario.audited)) == decisions(
        entries(one.stdout, scenario.audited)
    )
    assert {e["file"] for e in entries(everywhere.stdout, scenario.audited).values()} == {
        "api/v1/services",
        "apis/apps/v1/statefulsets",
        "apis/toolhive.stacklok.dev/v1beta1/mcpservers",
    }
    assert entries(everywhere.stdout, scenario.excluded) == {}
    assert "objects read in all namespaces" in everywhere.stderr
    # Not excluded, the same violations are found there: the configuration is what kept them out.
    plain = scenario.work / "plain.yaml"
    plain.write_text("{}\n")
    assert set(entries(scenario.run("-o", "json", config=plain).stdout, scenario.excluded)) == set(FINDINGS)
    only_excluded = scenario.run("-n", scenario.excluded, "-o", "json")
    assert (only_excluded.code, json.loads(only_excluded.stdout)) == (0, [])
    assert "excludedNamespaces" in only_excluded.stderr


def test_a_deployment_read_on_the_way_narrows_no_later_list(scenario: Scenario) -> None:
    """Deployments are read before ToolHive's resources, each in its namespace: across all namespaces, the
    lists after them are still the cluster-wide ones (the audit once listed them in the namespace of the
    last Deployment it read)."""
    elsewhere = unique("audit-deployment")
    scenario.kubectl("create", "namespace", elsewhere)
    try:
        scenario.kubectl("create", "deployment", "plain", "--image", "busybox", "-n", elsewhere)
        run = scenario.run("-o", "json")
        assert run.code == 0, run.stderr
        servers = [e for e in entries(run.stdout, scenario.audited).values() if e["kind"] == "MCPServer"]
        assert {e["file"] for e in servers} == {"apis/toolhive.stacklok.dev/v1beta1/mcpservers"}
        assert set(entries(run.stdout, scenario.audited)) == set(FINDINGS) | CLEAN
    finally:
        scenario.kubectl("delete", "namespace", elsewhere, "--wait=false", check=False)


def test_small_pages_read_everything_and_show_progress_on_a_terminal(scenario: Scenario) -> None:
    ns = scenario.audited
    argv = [console_script(), "audit", "--kubeconfig", str(scenario.plane.kubeconfig), "--config"]
    argv += [str(scenario.config), "-n", ns, "-o", "json", "--page-size", "1"]
    leader, follower = os.openpty()
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=follower) as proc:
        os.close(follower)
        stdout, _ = proc.communicate(timeout=120)
        terminal = b""
        while chunk := _read(leader):
            terminal += chunk
    os.close(leader)
    assert proc.returncode == 0, terminal
    assert entries(stdout.decode(), ns) == entries(scenario.run("-n", ns, "-o", "json").stdout, ns)
    # One progress update per page of one object: 1, 2, 3... for the Services (4 in the namespace).
    shown = terminal.decode()
    for count in range(1, 5):
        assert f"\rmcp-admission audit: services: {count} read" in shown, shown


def test_lists_are_read_in_pages(scenario: Scenario) -> None:
    kube = Kube(api_client(str(scenario.plane.kubeconfig)))
    path = f"/api/v1/namespaces/{scenario.audited}/services"
    names = [[s["metadata"]["name"] for s in page] for page in pages(kube, path, 3)]
    assert [len(page) for page in names] == [3, 1]  # 4 Services, no more than 3 per request
    whole = kube.request("GET", path)["items"]
    assert sorted(name for page in names for name in page) == sorted(s["metadata"]["name"] for s in whole)


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: the other side is closed and everything was read
        return b""


def test_it_writes_nothing(scenario: Scenario) -> None:
    def versions() -> dict[tuple[str, str, str], str]:
        objects = live(scenario.kubectl, scenario.audited, scenario.excluded)
        return {
            (o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]): o["metadata"]["resourceVersion"]
            for o in objects
        }

    before = versions()
    assert len(before) == len(FINDINGS) * 2 + len(CLEAN) + 2  # the excluded namespace has the violations
    for output in ("text", "json", "sarif", "junit"):
        assert scenario.run("-o", output).code == 0
    for args in (["--strict"], ["--page-size", "1"], ["-n", scenario.audited]):
        scenario.run(*args)
    scenario.run(config=scenario.enforcing)
    assert versions() == before


def test_it_says_which_admission_the_cluster_runs(scenario: Scenario) -> None:
    """Nothing of ours in the test cluster; then one labelled webhook configuration (its one rule names
    a resource that does not exist, so it is never called); the admission policies' kinds are not served
    by this apiserver (1.20) and count as none."""
    ns = scenario.audited
    before = scenario.run("-n", ns, "-o", "json")
    assert before.code == 0, before.stderr
    assert "mcp-admission audit: admission: nothing of mcp-admission's found" in before.stderr
    name = unique("audit-mode")
    hook = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "mcp-admission"}},
        "webhooks": [
            {
                "name": "never.mcp-admission.io",
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": "Ignore",
                "clientConfig": {"url": "https://127.0.0.1:1/never"},
                "rules": [{"apiGroups": ["example.invalid"], "apiVersions": ["v1"], "resources": ["nothing"],
                           "operations": ["CREATE"]}],
            }
        ],
    }  # fmt: skip
    scenario.kubectl("apply", "-f", "-", stdin=json.dumps(hook))
    try:
        after = scenario.run("-n", ns, "-o", "json")
        assert after.code == 0, after.stderr
        assert "admission: its webhook configurations (1): the webhook pods fix and warn" in after.stderr
    finally:
        scenario.kubectl("delete", "validatingwebhookconfiguration", name)
