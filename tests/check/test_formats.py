"""Each output format, parsed the way its consumer would read it."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mcp_admission.policies import POLICY_IDS

from .manifests import CONFIGMAP, SERVICE, SSE_SERVER, STDIO_SERVER, statefulset, stream
from .runner import check


@pytest.fixture
def manifests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two files below the working directory (SARIF URIs are relative to it, as to a CI checkout)."""
    monkeypatch.chdir(tmp_path)
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    (deploy / "app.yaml").write_text(stream(CONFIGMAP, SERVICE, statefulset("search")))
    (deploy / "servers.yaml").write_text(stream(STDIO_SERVER, SSE_SERVER))
    return deploy


def test_text(manifests: Path) -> None:
    run = check("-f", "deploy")
    assert run.code == 0
    assert run.stdout.splitlines() == [
        "deploy/app.yaml:6 Service/default/notes session-affinity: set sessionAffinity ClientIP (1800s) so "
        "MCP sessions stay on one pod",
        "deploy/app.yaml:6 Service/default/notes patch: replace /spec/sessionAffinity, add "
        "/spec/sessionAffinityConfig",
        "deploy/app.yaml:15 StatefulSet/tools/search statefulset-dns: serviceName set to mcp-search-headless "
        "for pod DNS",
        "deploy/app.yaml:15 StatefulSet/tools/search patch: replace /spec/serviceName",
        "deploy/servers.yaml:1 MCPServer/tools/files stdio-replicas: spec.replicas 3 -> 1: a stdio server is "
        "one process",
        "deploy/servers.yaml:1 MCPServer/tools/files patch: replace /spec/replicas",
        "deploy/servers.yaml:6 MCPServer/tools/weather session-storage: spec.replicas 2 without "
        "sessionStorage redis: sessions are not shared",
        "5 objects checked: 3 patched, 4 warnings, 0 denied, 0 input errors",
    ]


def test_json(manifests: Path) -> None:
    entries = check("-f", "deploy", "-o", "json").json()
    assert [(e["file"], e["line"], e["kind"]) for e in entries] == [
        ("deploy/app.yaml", 1, "ConfigMap"),
        ("deploy/app.yaml", 6, "Service"),
        ("deploy/app.yaml", 15, "StatefulSet"),
        ("deploy/servers.yaml", 1, "MCPServer"),
        ("deploy/servers.yaml", 6, "MCPServer"),
    ]
    service = entries[1]
    assert service == {
        "file": "deploy/app.yaml",
        "line": 6,
        "apiVersion": "v1",
        "kind": "Service",
        "namespace": "default",  # none in the manifest: the default, like kubectl
        "name": "notes",
        "operation": "CREATE",
        "patch": [
            {"op": "replace", "path": "/spec/sessionAffinity", "value": "ClientIP"},
            {
                "op": "add",
                "path": "/spec/sessionAffinityConfig",
                "value": {"clientIP": {"timeoutSeconds": 1800}},
            },
        ],
        "warnings": [
            {
                "policy": "session-affinity",
                "message": "set sessionAffinity ClientIP (1800s) so MCP sessions stay on one pod",
            }
        ],
        "denial": None,
        "errors": [],
    }
    assert entries[0]["patch"] == entries[0]["warnings"] == []
    assert entries[4]["apiVersion"] == "toolhive.stacklok.dev/v1beta1"


def test_json_repeats_the_api_version_as_written(manifests: Path) -> None:
    """`/v1` is the core group's v1 to Kubernetes (and to the policies), but the report says what the
    file says, so a reader can find it there."""
    odd = manifests / "odd.yaml"
    odd.write_text(SERVICE.replace("apiVersion: v1", "apiVersion: /v1", 1))
    (entry,) = check("-f", odd, "-o", "json").json()
    assert (entry["apiVersion"], entry["kind"]) == ("/v1", "Service")
    assert [w["policy"] for w in entry["warnings"]] == ["session-affinity"]  # decided as a v1 Service


def test_namespace_option(manifests: Path) -> None:
    entries = check("-f", "deploy/app.yaml", "-o", "json", "--namespace", "team-b").json()
    assert [e["namespace"] for e in entries] == ["tools", "team-b", "tools"]


def test_sarif(manifests: Path) -> None:
    run = check("-f", "deploy", "-o", "sarif")
    assert run.code == 0
    sarif = run.json()
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    (sarif_run,) = sarif["runs"]
    driver = sarif_run["tool"]["driver"]
    assert driver["name"] == "mcp-admission" and driver["version"]
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert rule_ids[: len(POLICY_IDS)] == list(POLICY_IDS)
    assert all(rule["shortDescription"]["text"] for rule in driver["rules"])
    results = sarif_run["results"]
    found = []
    for result in results:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["message"]["text"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["region"]["startLine"] >= 1
        found.append(
            (
                result["ruleId"],
                result["level"],
                physical["artifactLocation"]["uri"],
                physical["region"]["startLine"],
            )
        )
    # Fixed by the webhook's patch: a note; a problem nothing fixes: a warning.
    assert found == [
        ("session-affinity", "note", "deploy/app.yaml", 6),
        ("statefulset-dns", "note", "deploy/app.yaml", 15),
        ("stdio-replicas", "note", "deploy/servers.yaml", 1),
        ("session-storage", "warning", "deploy/servers.yaml", 6),
    ]
    assert (
        "(patch: replace /spec/sessionAffinity, add /spec/sessionAffinityConfig)"
        in results[0]["message"]["text"]
    )


def test_sarif_strict_and_enforced(manifests: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("policies:\n  session-storage:\n    mode: enforce\n")
    sarif = check("-f", "deploy", "-o", "sarif", "--config", config, "--strict").json()
    levels = {(r["ruleId"], r["level"]) for r in sarif["runs"][0]["results"]}
    assert levels == {
        ("session-affinity", "error"),
        ("statefulset-dns", "error"),
        ("stdio-replicas", "error"),
        ("session-storage", "error"),
    }
    denial = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "session-storage"]
    assert denial[0]["message"]["text"].startswith("MCPServer/tools/weather: denied: spec.replicas 2")


def test_sarif_input_errors_are_results(manifests: Path) -> None:
    (manifests / "broken.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n")
    run = check("-f", "deploy", "-f", "missing.yaml", "-o", "sarif")
    assert run.code == 2
    errors = [r for r in run.json()["runs"][0]["results"] if r["ruleId"] == "invalid-input"]
    locations = [e["locations"][0]["physicalLocation"] for e in errors]
    assert [(e["level"], e["message"]["text"][:20]) for e in errors] == [
        ("error", "not valid YAML: did "),
        ("error", "no such file or dire"),
    ]
    assert [(p["artifactLocation"]["uri"], p["region"]["startLine"]) for p in locations] == [
        ("deploy/broken.yaml", 4),
        ("missing.yaml", 1),  # a whole-file problem: GitHub still wants a start line
    ]


def test_junit(manifests: Path) -> None:
    run = check("-f", "deploy", "-o", "junit")
    assert run.code == 0
    root = ET.fromstring(run.stdout)
    assert (root.tag, root.get("name")) == ("testsuites", "mcp-admission check")
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "0", "0")
    suites = root.findall("testsuite")
    assert [(s.get("name"), s.get("tests")) for s in suites] == [
        ("deploy/app.yaml", "3"),
        ("deploy/servers.yaml", "2"),
    ]
    cases = root.findall("testsuite/testcase")
    assert [c.get("name") for c in cases] == [
        "ConfigMap/tools/settings (line 1)",
        "Service/default/notes (line 6)",
        "StatefulSet/tools/search (line 15)",
        "MCPServer/tools/files (line 1)",
        "MCPServer/tools/weather (line 6)",
    ]
    assert cases[0].find("system-out") is None  # nothing to say about a ConfigMap
    out = cases[1].find("system-out")
    assert out is not None and out.text is not None and "patch: replace /spec/sessionAffinity" in out.text
    assert all(c.find("failure") is None for c in cases)


def test_junit_failures_for_denials_and_strict(manifests: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("policies:\n  session-storage:\n    mode: enforce\n")
    root = ET.fromstring(check("-f", "deploy", "-o", "junit", "--config", config).stdout)
    failed = [
        (c.get("name"), f.get("type")) for c in root.iter("testcase") if (f := c.find("failure")) is not None
    ]
    assert failed == [("MCPServer/tools/weather (line 6)", "session-storage")]
    assert root.get("failures") == "1"

    strict = ET.fromstring(check("-f", "deploy", "-o", "junit", "--strict").stdout)
    assert strict.get("failures") == "4"  # every object something was said about


def test_junit_input_errors(manifests: Path) -> None:
    (manifests / "broken.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n")
    root = ET.fromstring(check("-f", "deploy", "-o", "junit").stdout)
    assert root.get("errors") == "1"
    (error,) = root.iter("error")
    assert error.text is not None and error.text.startswith("deploy/broken.yaml:4: not valid YAML")


def test_several_reports_from_one_run(manifests: Path, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    run = check("-f", "deploy", "-o", "text", "-o", "sarif=out/results.sarif", "-o", "junit=report.xml")
    assert run.code == 0
    assert run.stdout == check("-f", "deploy").stdout
    sarif = json.loads((tmp_path / "out/results.sarif").read_text())
    assert sarif == check("-f", "deploy", "-o", "sarif").json()
    assert (tmp_path / "report.xml").read_text() == check("-f", "deploy", "-o", "junit").stdout
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file() and p.parent.name != "deploy") == [
        "report.xml",
        "results.sarif",
    ]  # no temporary file left behind


def test_reports_to_files_only(manifests: Path, tmp_path: Path) -> None:
    run = check("-f", "deploy", "-o", "json=a.json", "-o", "junit=-")
    assert run.code == 0
    assert ET.fromstring(run.stdout).tag == "testsuites"
    assert len(json.loads((tmp_path / "a.json").read_text())) == 5


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        (["-o", "text", "-o", "json"], "at most one report can go to stdout"),
        (["-o", "json=-", "-o", "sarif"], "at most one report can go to stdout"),
        (["-o", "json=r", "-o", "sarif=r"], "two reports to the same file: r"),
    ],
)
def test_reports_that_cannot_all_be_written(manifests: Path, outputs: list[str], message: str) -> None:
    run = check("-f", "deploy", *outputs)
    assert (run.code, run.stdout) == (2, "")
    assert run.stderr.startswith(f"mcp-admission check: {message}")


def test_unknown_format_is_a_usage_error(manifests: Path) -> None:
    with pytest.raises(SystemExit) as exit_:
        check("-f", "deploy", "-o", "yaml=x")
    assert exit_.value.code == 2


def test_a_report_file_that_cannot_be_written(manifests: Path, tmp_path: Path) -> None:
    (tmp_path / "report.xml").mkdir()  # a directory where the file should go
    run = check("-f", "deploy", "-o", "junit=report.xml", "-o", "text")
    assert run.code == 2
    assert run.stderr.startswith("mcp-admission check: cannot write report.xml: ")
    assert run.stdout.endswith("0 input errors\n")  # the other reports are still written
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
