"""What the check reads: files, directories, stdin, JSON, Lists; and every kind of unusable input
(exit 2, `file:line: problem` on stderr, never a traceback, the good documents still reported)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from .manifests import CONFIGMAP, SERVICE, SSE_SERVER, STDIO_SERVER, statefulset, stream
from .runner import check, console_script, script

pytestmark = pytest.mark.usefixtures("in_tmp")


def files_and_lines(run_stdout: str) -> list[tuple[str, int, str]]:
    return [(e["file"], e["line"], e["name"]) for e in json.loads(run_stdout)]


def test_directory_recursive_sorted_manifests_only(tmp_path: Path) -> None:
    (tmp_path / "m/b/deeper").mkdir(parents=True)
    (tmp_path / "m/a.yml").write_text(SERVICE)
    (tmp_path / "m/b/deeper/z.yaml").write_text(STDIO_SERVER)
    (tmp_path / "m/b/c.json").write_text(
        json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-json"}})
    )
    (tmp_path / "m/b/notes.txt").write_text("not: [a manifest")
    (tmp_path / "m/README.md").write_text("# docs")
    run = check("-f", "m", "-o", "json")
    assert (run.code, run.stderr) == (0, "")
    assert files_and_lines(run.stdout) == [
        ("m/a.yml", 1, "notes"),
        ("m/b/c.json", 1, "from-json"),
        ("m/b/deeper/z.yaml", 1, "files"),
    ]


def test_several_files_and_stdin_keep_their_order(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text(CONFIGMAP)
    run = script(
        "-f", "one.yaml", "-f", "-", "-o", "json", stdin=stream(SERVICE, SSE_SERVER).encode(), cwd=tmp_path
    )
    assert run.code == 0, run.stderr
    assert files_and_lines(run.stdout) == [
        ("one.yaml", 1, "settings"),
        ("stdin", 1, "notes"),
        ("stdin", 10, "weather"),
    ]


def test_kind_list_items_have_their_own_lines(tmp_path: Path) -> None:
    (tmp_path / "list.yaml").write_text(
        "apiVersion: v1\nkind: List\nitems:\n"
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: first}\n"
        "- apiVersion: v1\n  kind: Service\n"
        "  metadata: {name: second, labels: {mcp-admission.io/workload: 'true'}}\n"
        "  spec: {ports: [{port: 80}]}\n"
    )
    entries = check("-f", "list.yaml", "-o", "json").json()
    assert [(e["line"], e["kind"], e["name"], len(e["patch"])) for e in entries] == [
        (4, "ConfigMap", "first", 0),
        (7, "Service", "second", 2),
    ]


def test_json_list_as_kubectl_get_prints_it(tmp_path: Path) -> None:
    items = [
        json.loads(json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"}}))
        for i in range(2)
    ]
    (tmp_path / "list.json").write_text(
        json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=4)
    )
    entries = check("-f", "list.json", "-o", "json").json()
    assert [(e["line"], e["name"]) for e in entries] == [(5, "c0"), (12, "c1")]


def test_empty_documents_and_comments_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "sparse.yaml").write_text("# only a comment\n---\n---\n" + CONFIGMAP + "---\n")
    run = check("-f", "sparse.yaml", "-o", "json")
    assert (run.code, files_and_lines(run.stdout)) == (0, [("sparse.yaml", 4, "settings")])


def test_broken_yaml_among_good_documents(tmp_path: Path) -> None:
    """A document that does not parse is named by file:line; those before and after it are checked."""
    broken = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\n   bad: indentation\n"
    (tmp_path / "mixed.yaml").write_text(stream(SERVICE, broken, statefulset("search")))
    run = check("-f", "mixed.yaml")
    assert run.code == 2
    assert run.stderr == "mixed.yaml:14: not valid YAML: mapping values are not allowed in this context\n"
    lines = run.stdout.splitlines()
    assert lines[0].startswith("mixed.yaml:1 Service/default/notes session-affinity:")
    assert lines[2].startswith("mixed.yaml:16 StatefulSet/tools/search statefulset-dns:")
    assert lines[-1] == "2 objects checked: 2 patched, 2 warnings, 0 denied, 1 input errors"


def test_unclosed_flow_mapping_does_not_swallow_the_next_document(tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text(
        stream("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n", SERVICE)
    )
    run = check("-f", "flow.yaml", "-o", "json")
    assert run.code == 2
    assert run.stderr.startswith("flow.yaml:4: not valid YAML:")
    assert files_and_lines(run.stdout) == [("flow.yaml", 5, "notes")]


def test_unknown_tag_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "tag.yaml").write_text(
        stream("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: !Ref x}\n", CONFIGMAP)
    )
    run = check("-f", "tag.yaml", "-o", "json")
    assert run.code == 2
    assert run.stderr == "tag.yaml:3: not valid YAML: could not determine a constructor for the tag '!Ref'\n"
    assert files_and_lines(run.stdout) == [("tag.yaml", 5, "settings")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- list\n", "not a Kubernetes object: a document must be a mapping, not a list"),
        ("just text\n", "not a Kubernetes object: a document must be a mapping, not a string"),
        ("kind: ConfigMap\nmetadata: {name: x}\n", "not a Kubernetes object: no apiVersion"),
        ("apiVersion: v1\nmetadata: {name: x}\n", "not a Kubernetes object: no kind"),
        ("apiVersion: v1\nkind: 7\n", "not a Kubernetes object: no kind"),
    ],
)
def test_documents_that_are_not_objects(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "odd.yaml").write_text(stream(CONFIGMAP, text))
    run = check("-f", "odd.yaml", "-o", "json")
    assert (run.code, run.stderr) == (2, f"odd.yaml:6: {message}\n")
    assert files_and_lines(run.stdout) == [("odd.yaml", 1, "settings")]


def test_a_list_item_that_is_not_an_object(tmp_path: Path) -> None:
    (tmp_path / "list.yaml").write_text(
        "apiVersion: v1\nkind: List\nitems:\n- 42\n- apiVersion: v1\n"
        "  kind: ConfigMap\n  metadata: {name: ok}\n"
    )
    run = check("-f", "list.yaml", "-o", "json")
    assert run.code == 2
    assert run.stderr == "list.yaml:4: not a Kubernetes object: a document must be a mapping, not a number\n"
    assert files_and_lines(run.stdout) == [("list.yaml", 5, "ok")]


def test_missing_file_and_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(CONFIGMAP)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/notes.txt").write_text("hello")
    run = check("-f", "missing.yaml", "-f", "docs", "-f", "good.yaml")
    assert run.code == 2
    assert run.stderr.splitlines() == [
        "missing.yaml: no such file or directory",
        "docs: no .yaml, .yml or .json files in this directory",
    ]
    assert run.stdout.endswith("1 objects checked: 0 patched, 0 warnings, 0 denied, 2 input errors\n")


def test_binary_and_non_utf8_files(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m/latin1.yaml").write_bytes(CONFIGMAP.replace("settings", "caf\xe9").encode("latin-1"))
    (tmp_path / "m/nul.yaml").write_bytes(b"apiVersion: v1\nkind: ConfigMap\x00\x01\x02")
    (tmp_path / "m/ok.yaml").write_text(CONFIGMAP)
    run = script("-f", "m", cwd=tmp_path)
    assert run.code == 2
    assert "Traceback" not in run.stderr
    assert run.stderr.splitlines() == [
        "m/latin1.yaml:3: not UTF-8 text (byte 0xe9)",
        "m/nul.yaml:2: not valid YAML: character #x0000: control characters are not allowed",
    ]
    assert run.stdout == "1 objects checked: 0 patched, 0 warnings, 0 denied, 2 input errors\n"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "bom.yaml").write_bytes(b"\xef\xbb\xbf" + CONFIGMAP.encode())
    assert check("-f", "bom.yaml").code == 0


def test_empty_stdin_is_no_object_found() -> None:
    """`helm template` that rendered nothing, a pipe from a failed command: not a silent pass."""
    run = check("-f", "-")
    assert (run.code, run.stderr) == (
        2,
        "stdin: skipped: no Kubernetes object\nstdin: no Kubernetes object found in any input\n",
    )
    assert (
        run.stdout == "0 objects checked: 0 patched, 0 warnings, 0 denied, 1 input errors, 1 inputs skipped\n"
    )


def test_stdin_only_once() -> None:
    run = check("-f", "-", "--old", "-")
    assert (run.code, run.stderr) == (2, "mcp-admission check: stdin (-) can be read only once\n")


def test_reader_leaving_early_is_no_traceback(tmp_path: Path) -> None:
    """`mcp-admission check ... | head -1`: far more report than a pipe buffers, the reader gone."""
    (tmp_path / "many.yaml").write_text(
        stream(*(SERVICE.replace("notes", f"notes-{i}") for i in range(2000)))
    )
    proc = subprocess.Popen(
        [console_script(), "check", "-f", "many.yaml"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(9) == b"many.yaml"
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert (proc.wait(timeout=120), stderr) == (0, b"")


@pytest.mark.parametrize(
    ("text", "key", "line", "first"),
    [
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nkind: Secret\n", "kind", 4, 2),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels:\n    x: '1'\n    x: '2'\n",
            "x",
            7,
            6,
        ),
        (
            '{"apiVersion": "v1", "kind": "ConfigMap",\n "metadata": {"name": "a", "name": "b"}}\n',
            "name",
            2,
            2,
        ),
        (
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n"
            "  metadata: {name: a}\n  data: {k: '1', k: '2'}\n",
            "k",
            7,
            7,
        ),
        (  # aliases take PyYAML's own construction: the same rule holds there
            "apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: a}\ndata:\n  <<: *m\n  name: b\n  k: '1'\n"
            "  k: '2'\n",
            "k",
            8,
            7,
        ),
    ],
)
def test_a_key_twice_in_a_mapping_is_an_input_error(
    tmp_path: Path, text: str, key: str, line: int, first: int
) -> None:
    """kubectl's strict decoding refuses it; PyYAML alone would keep the last value silently."""
    (tmp_path / "dup.yaml").write_text(stream(CONFIGMAP, text, SERVICE))  # the document starts on line 6
    run = check("-f", "dup.yaml", "-o", "json")
    assert run.code == 2
    assert run.stderr == f'dup.yaml:{5 + line}: duplicate key "{key}" (first on line {5 + first})\n'
    assert [e["name"] for e in run.json()] == ["settings", "notes"]  # the other documents still checked


def test_a_merge_key_may_be_overridden(tmp_path: Path) -> None:
    """`<<: *base` then the same key: an override, as YAML merge keys mean, not a duplicate."""
    (tmp_path / "merge.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\n"
        "data:\n  <<: &base {a: '1', b: '2'}\n  b: '3'\n"
    )
    (entry,) = check("-f", "merge.yaml", "-o", "json").json()
    assert entry["name"] == "m"


def test_a_list_in_a_list_is_checked_item_by_item(tmp_path: Path) -> None:
    (tmp_path / "lists.yaml").write_text(
        "apiVersion: v1\nkind: List\nitems:\n"
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: outer}\n"
        "- apiVersion: v1\n  kind: ServiceList\n  items:\n"
        "  - apiVersion: v1\n    kind: Service\n"
        "    metadata: {name: inner, labels: {mcp-admission.io/workload: 'true'}}\n"
        "    spec: {ports: [{port: 80}]}\n"
        "  - apiVersion: v1\n    kind: List\n    items:\n"
        "    - {apiVersion: v1, kind: ConfigMap, metadata: {name: innermost}}\n"
        "    - 7\n"
    )
    run = check("-f", "lists.yaml", "-o", "json")
    assert (run.code, run.stderr) == (
        2,
        "lists.yaml:18: not a Kubernetes object: a document must be a mapping, not a number\n",
    )
    assert [(e["line"], e["kind"], e["name"], len(e["patch"])) for e in run.json()] == [
        (4, "ConfigMap", "outer", 0),
        (10, "Service", "inner", 2),
        (17, "ConfigMap", "innermost", 0),
    ]


def test_plain_paths_as_pre_commit_passes_them(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(CONFIGMAP)
    (tmp_path / "b.yaml").write_text(SERVICE)
    run = check("-o", "json", "a.yaml", "b.yaml")
    assert files_and_lines(run.stdout) == [("a.yaml", 1, "settings"), ("b.yaml", 1, "notes")]
