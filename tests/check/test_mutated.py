"""--write-mutated through the CLI: the input files again with the webhook's patches in them and nothing
else. Checked against the report itself: the written object, defaulted as the apiserver would, is the
reported JSON Patch applied (with jsonpatch) to the defaulted input; and byte for byte where the
formatting must be kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonpatch
import pytest
import yaml

from mcp_admission.check.defaults import with_server_defaults

from .manifests import CONFIGMAP, SERVICE, SSE_SERVER, STDIO_SERVER, statefulset, stream
from .runner import check, script

pytestmark = pytest.mark.usefixtures("in_tmp")


def defaulted(obj: dict[str, Any]) -> Any:
    group = obj["apiVersion"].rpartition("/")[0]
    return with_server_defaults(group, obj["kind"], obj)


def stored(inputs: list[dict[str, Any]], report: list[dict[str, Any]]) -> list[Any]:
    """What the webhook would have the apiserver store, from the report's patches."""
    return [
        jsonpatch.apply_patch(defaulted(obj), entry["patch"])
        for obj, entry in zip(inputs, report, strict=True)
    ]


# A Service as people write them: comments, quoting, flow style, indented sequences.
COMMENTED_SERVICE = """\
# The notes MCP server's Service.
apiVersion: v1
kind: Service
metadata:
  name: notes
  labels:
    mcp-admission.io/workload: "true"   # opted in
  annotations: {owner: 'team-notes', note: "keep"}
spec:
  selector:
    app: notes
  ports:
    - name: 'http'
      port: 80    # the proxy
      targetPort: 8080
  # end of spec

# end of document
"""
SESSION_AFFINITY = """\
  sessionAffinity: ClientIP
  sessionAffinityConfig:
    clientIP:
      timeoutSeconds: 1800
"""
# stdio and no replicas: an HPA owns the count; the apiserver defaults replicas to 1 before us.
HPA_STDIO_STATEFULSET = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: files   # scaled by an HPA
  labels: {toolhive: "true", toolhive-name: files, toolhive-transport: stdio}
spec:
  serviceName: files
  selector: {matchLabels: {app: files}}
  template:
    metadata: {labels: {app: files}}
    spec:
      terminationGracePeriodSeconds: 60
      containers: [{name: mcp, image: example/files:1}]
"""


def test_a_service_gains_only_session_affinity_with_its_formatting_kept(tmp_path: Path) -> None:
    (tmp_path / "svc.yaml").write_text(COMMENTED_SERVICE)
    run = check("-f", "svc.yaml", "--write-mutated", "-", "-o", "json")
    assert run.code == 0, run.stderr
    # No `type: ClusterIP`, no `sessionAffinity: None` first: only what the patch sets, after the last
    # member of spec and before the comments that follow it.
    head, tail = COMMENTED_SERVICE.split("  # end of spec\n")
    assert run.stdout == head + SESSION_AFFINITY + "  # end of spec\n" + tail
    (report,) = json.loads(run.stderr)
    assert [op["path"] for op in report["patch"]] == ["/spec/sessionAffinity", "/spec/sessionAffinityConfig"]
    assert defaulted(yaml.safe_load(run.stdout)) == stored([yaml.safe_load(COMMENTED_SERVICE)], [report])[0]


def test_an_hpa_managed_stdio_statefulset_gains_nothing(tmp_path: Path) -> None:
    path = tmp_path / "sts.yaml"
    path.write_text(HPA_STDIO_STATEFULSET)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    assert check("-f", "sts.yaml", "--write-mutated", "-").stdout == HPA_STDIO_STATEFULSET
    run = check("-f", "sts.yaml", "--write-mutated", ".")
    assert run.code == 0, run.stderr
    assert path.read_text() == HPA_STDIO_STATEFULSET
    assert path.stat().st_mtime_ns == 1_000_000_000  # not even rewritten with the same bytes


def test_in_place_only_files_that_change_are_rewritten(tmp_path: Path) -> None:
    (tmp_path / "k8s/servers").mkdir(parents=True)
    unchanged = {"k8s/config.yaml": CONFIGMAP, "k8s/servers/hpa.yaml": HPA_STDIO_STATEFULSET}
    for name, text in {**unchanged, "k8s/servers/notes.yaml": COMMENTED_SERVICE}.items():
        (tmp_path / name).write_text(text)
        os.utime(tmp_path / name, ns=(1_000_000_000, 1_000_000_000))
    (tmp_path / "k8s/servers/notes.yaml").chmod(0o640)
    run = check("-f", "k8s", "--write-mutated", "k8s")
    assert run.code == 0, run.stderr
    for name, text in unchanged.items():
        assert (tmp_path / name).read_text() == text
        assert (tmp_path / name).stat().st_mtime_ns == 1_000_000_000
    notes = tmp_path / "k8s/servers/notes.yaml"
    assert "sessionAffinity: ClientIP" in notes.read_text()
    assert notes.stat().st_mode & 0o777 == 0o640  # replaced, with its mode
    assert sorted(p.name for p in (tmp_path / "k8s").rglob("*")) == [
        "config.yaml",
        "hpa.yaml",
        "notes.yaml",
        "servers",
    ]  # no temporary file left beside them
    # Fixed: a second run finds nothing to patch and touches nothing.
    os.utime(notes, ns=(2_000_000_000, 2_000_000_000))
    again = check("-f", "k8s", "--write-mutated", "k8s", "-o", "json")
    assert [entry["patch"] for entry in again.json()] == [[], [], []]
    assert notes.stat().st_mtime_ns == 2_000_000_000


def test_into_another_directory_every_file_is_copied_and_patched(tmp_path: Path) -> None:
    (tmp_path / "in/servers").mkdir(parents=True)
    app = stream(CONFIGMAP, SERVICE, statefulset("search"))
    servers = stream(STDIO_SERVER, SSE_SERVER)
    (tmp_path / "in/app.yaml").write_text(app)
    (tmp_path / "in/servers/all.yaml").write_text(servers)
    (tmp_path / "in/servers/hpa.yaml").write_text(HPA_STDIO_STATEFULSET)
    run = check("-f", "in", "--write-mutated", "out", "-o", "json")
    assert run.code == 0, run.stderr
    report = run.json()
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")) == [
        "app.yaml",
        "servers",
        "servers/all.yaml",
        "servers/hpa.yaml",
    ]
    assert (tmp_path / "out/servers/hpa.yaml").read_text() == HPA_STDIO_STATEFULSET  # a plain copy
    inputs = [*yaml.safe_load_all(app), *yaml.safe_load_all(servers), yaml.safe_load(HPA_STDIO_STATEFULSET)]
    written = [
        *yaml.safe_load_all((tmp_path / "out/app.yaml").read_text()),
        *yaml.safe_load_all((tmp_path / "out/servers/all.yaml").read_text()),
        yaml.safe_load((tmp_path / "out/servers/hpa.yaml").read_text()),
    ]
    assert [defaulted(obj) for obj in written] == stored(inputs, report)
    configmap, service, search, files, weather, _ = written
    assert configmap == inputs[0]
    assert service["spec"] == {**inputs[1]["spec"], **yaml.safe_load(SESSION_AFFINITY)}  # no type
    assert search["spec"] == {**inputs[2]["spec"], "serviceName": "mcp-search-headless"}  # no replicas
    assert files["spec"] == {"image": "example/files:1", "replicas": 1}  # no transport, proxyPort...
    assert weather == inputs[4]
    # The documents without a patch are the input's own bytes, separators included.
    assert (tmp_path / "out/app.yaml").read_text().startswith(CONFIGMAP + "---\n")
    assert (tmp_path / "out/servers/all.yaml").read_text() == stream(
        STDIO_SERVER.replace("replicas: 3", "replicas: 1"), SSE_SERVER
    )
    # Written again into the same place: nothing changes, nothing is rewritten.
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*.yaml")}
    for p in mtimes:
        os.utime(p, ns=(1_000_000_000, 1_000_000_000))
    assert check("-f", "in", "--write-mutated", "out").code == 0
    assert {p.stat().st_mtime_ns for p in mtimes} == {1_000_000_000}


def test_stdout_is_the_whole_input_stream_with_only_changed_documents_changed(tmp_path: Path) -> None:
    broken = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [oops\n"
    first = "# rendered by kustomize\n" + stream(CONFIGMAP, broken, STDIO_SERVER) + "---\n# only a comment\n"
    (tmp_path / "a.yaml").write_text(first)
    (tmp_path / "b.yaml").write_text(SSE_SERVER.rstrip("\n"))  # no final newline
    (tmp_path / "c.yaml").write_text("---\n" + CONFIGMAP)
    run = check("-f", "a.yaml", "-f", "b.yaml", "-f", "c.yaml", "--write-mutated", "-")
    assert run.code == 2  # the broken document
    assert run.stdout == (
        first.replace("replicas: 3", "replicas: 1")
        + "---\n"
        + SSE_SERVER.rstrip("\n")
        + "\n---\n"
        + CONFIGMAP
    )
    assert run.stderr.startswith("a.yaml:10: not valid YAML")


def test_stdin_is_written_as_stdin_yaml_and_a_json_list_as_json(tmp_path: Path) -> None:
    items = [yaml.safe_load(CONFIGMAP), yaml.safe_load(SERVICE)]
    listed = {"apiVersion": "v1", "kind": "List", "items": items}
    (tmp_path / "list.json").write_text(json.dumps(listed, indent=4) + "\n")
    run = script(
        "-f",
        "-",
        "-f",
        "list.json",
        "--write-mutated",
        "out",
        "-o",
        "json",
        stdin=STDIO_SERVER.encode(),
        cwd=tmp_path,
    )
    assert run.code == 0, run.stderr
    report = run.json()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["list.json", "stdin.yaml"]
    assert (tmp_path / "out/stdin.yaml").read_text() == STDIO_SERVER.replace("replicas: 3", "replicas: 1")
    # Patched inside the list, written as JSON indented as it was.
    service = {**items[1], "spec": {**items[1]["spec"], **yaml.safe_load(SESSION_AFFINITY)}}
    patched = {**listed, "items": [items[0], service]}
    assert (tmp_path / "out/list.json").read_text() == json.dumps(patched, indent=4) + "\n"
    assert [defaulted(service)] == stored([items[1]], report[2:])


def test_a_yaml_list_is_patched_inside_the_list(tmp_path: Path) -> None:
    listed = """\
apiVersion: v1
kind: List
items:
# first: its settings
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: settings}
- apiVersion: v1   # the Service
  kind: Service
  metadata:
    name: notes
    labels: {mcp-admission.io/workload: "true"}
  spec:
    selector: {app: notes}
    ports: [{port: 80}]
    sessionAffinity: None
# the end
"""
    (tmp_path / "list.yaml").write_text(listed)
    run = check("-f", "list.yaml", "--write-mutated", "-")
    assert run.code == 0, run.stderr
    sticky = "".join("  " + line for line in SESSION_AFFINITY.splitlines(keepends=True))
    assert run.stdout == listed.replace("    sessionAffinity: None\n", sticky)


def list_item(manifest: str, indent: str) -> str:
    """`manifest` as an item of a YAML block sequence indented by `indent`."""
    first, *rest = manifest.splitlines(keepends=True)
    return f"{indent}- {first}" + "".join(f"{indent}  {line}" for line in rest)


def test_a_list_in_a_list_is_patched_where_it_is(tmp_path: Path) -> None:
    lists = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: List   # kubectl get -o yaml of several kinds, collected
  items:
"""
    server = """\
- apiVersion: toolhive.stacklok.dev/v1beta1
  kind: MCPServer
  metadata: {name: files}
  spec: {image: 'example/files:1', replicas: 3}  # stdio by default
"""
    nested = lists + list_item(SERVICE + "  sessionAffinity: None\n", "  ") + server
    (tmp_path / "nested.yaml").write_text(nested)
    run = check("-f", "nested.yaml", "--write-mutated", "-")
    assert run.code == 0, run.stderr
    sticky = "".join("    " + line for line in SESSION_AFFINITY.splitlines(keepends=True))
    expected = nested.replace("      sessionAffinity: None\n", sticky).replace("replicas: 3", "replicas: 1")
    assert run.stdout == expected
    (tmp_path / "nested.yaml").write_text(run.stdout)
    rechecked = check("-f", "nested.yaml", "-o", "json")
    assert [entry["patch"] for entry in json.loads(rechecked.stdout)] == [[], []]  # nothing left to patch
    again = check("-f", "nested.yaml", "--write-mutated", "-")
    assert again.stdout == expected


def test_quoting_and_flow_style_of_replaced_values_are_kept(tmp_path: Path) -> None:
    sts = statefulset('"search"')  # serviceName: "search", double-quoted
    (tmp_path / "sts.yaml").write_text(sts)
    run = check("-f", "sts.yaml", "--write-mutated", "-")
    assert run.stdout == sts.replace('serviceName: "search"', 'serviceName: "mcp-search-headless"')
    server = "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\nmetadata: {name: files}\n"
    flow = server + "spec: { image: 'example/files:1', replicas: 3 }  # stdio by default\n"
    (tmp_path / "server.yaml").write_text(flow)
    run = check("-f", "server.yaml", "--write-mutated", "-")
    # ruamel drops the spaces inside the braces; the comment keeps its column.
    assert run.stdout == server + "spec: {image: 'example/files:1', replicas: 1}    # stdio by default\n"


def test_crlf_line_ends_are_kept(tmp_path: Path) -> None:
    crlf = COMMENTED_SERVICE.replace("\n", "\r\n")
    (tmp_path / "svc.yaml").write_bytes(crlf.encode())
    assert check("-f", "svc.yaml", "--write-mutated", "out").code == 0
    head, tail = crlf.split("  # end of spec\r\n")
    expected = head + SESSION_AFFINITY.replace("\n", "\r\n") + "  # end of spec\r\n" + tail
    assert (tmp_path / "out/svc.yaml").read_bytes() == expected.encode()


def test_a_real_toolhive_service_gains_session_affinity_only(toolhive: Path, tmp_path: Path) -> None:
    scenario = toolhive / "repo/test/e2e/chainsaw/operator/single-tenancy/test-scenarios/vmcp"
    original = (scenario / "assert-vmcp-service.yaml").read_text()
    run = check("-f", scenario / "assert-vmcp-service.yaml", "--write-mutated", "out")
    assert run.code == 0, run.stderr
    assert (tmp_path / "out/assert-vmcp-service.yaml").read_text() == original + SESSION_AFFINITY


def test_real_toolhive_examples_are_copied_unchanged(toolhive: Path, tmp_path: Path) -> None:
    run = check("-f", toolhive / "examples", "--write-mutated", "out", "-o", "json")
    assert run.code == 0, run.stderr
    assert all(entry["patch"] == [] for entry in run.json())
    originals = sorted((toolhive / "examples").glob("*.yaml"))
    assert [p.name for p in originals] == sorted(p.name for p in (tmp_path / "out").iterdir())
    for path in originals:
        assert (tmp_path / "out" / path.name).read_bytes() == path.read_bytes()


def test_two_inputs_with_the_same_name_are_refused(tmp_path: Path) -> None:
    for folder in ("base", "prod"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "svc.yaml").write_text(SERVICE)
    run = check("-f", "base", "-f", "prod", "--write-mutated", "out")
    assert run.code == 2
    assert "base/svc.yaml and prod/svc.yaml would both be out/svc.yaml" in run.stderr
    assert not (tmp_path / "out").exists()


def test_unwritable_target_is_unusable_input(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(CONFIGMAP)
    (tmp_path / "taken").write_text("a file, not a directory")
    run = check("-f", "app.yaml", "--write-mutated", "taken")
    assert run.code == 2
    assert run.stderr.startswith("taken: cannot write mutated manifests:")


def test_check_alone_never_imports_ruamel(tmp_path: Path) -> None:
    (tmp_path / "svc.yaml").write_text(SERVICE)
    probe = (
        "import sys; from mcp_admission.cli import main; code = main(sys.argv[1:]);"
        "print(code, 'ruamel' in sys.modules, file=sys.stderr)"
    )

    def ruamel_loaded(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-c", probe, "check", "-f", "svc.yaml", *args],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        return proc.stderr.strip().splitlines()[-1]

    assert ruamel_loaded() == "0 False"
    assert ruamel_loaded("--write-mutated", "out") == "0 True"  # the probe sees the import it guards
