"""--write-mutated: every object as the webhook would leave it. Checked against the report itself: the
reported JSON Patch, applied with jsonpatch to the apiserver-defaulted input, gives the written object."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonpatch
import pytest
import yaml

from mcp_admission.check.defaults import with_server_defaults

from .manifests import CONFIGMAP, SERVICE, SSE_SERVER, STDIO_SERVER, statefulset, stream
from .runner import check, script


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def defaulted(obj: dict[str, Any]) -> Any:
    group = obj["apiVersion"].rpartition("/")[0]
    return with_server_defaults(group, obj["kind"], obj)


def expected(inputs: list[dict[str, Any]], report: list[dict[str, Any]]) -> list[Any]:
    return [
        jsonpatch.apply_patch(defaulted(obj), entry["patch"])
        for obj, entry in zip(inputs, report, strict=True)
    ]


def test_directory_mirrors_input_names(tmp_path: Path) -> None:
    (tmp_path / "in/servers").mkdir(parents=True)
    app = stream(CONFIGMAP, SERVICE, statefulset("search"))
    (tmp_path / "in/app.yaml").write_text(app)
    (tmp_path / "in/servers/all.yaml").write_text(stream(STDIO_SERVER, SSE_SERVER))
    run = check("-f", "in", "--write-mutated", "out", "-o", "json")
    assert run.code == 0, run.stderr
    report = run.json()
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")) == [
        "app.yaml",
        "servers",
        "servers/all.yaml",
    ]
    inputs = list(yaml.safe_load_all(app)) + list(yaml.safe_load_all(stream(STDIO_SERVER, SSE_SERVER)))
    written = list(yaml.safe_load_all((tmp_path / "out/app.yaml").read_text()))
    written += list(yaml.safe_load_all((tmp_path / "out/servers/all.yaml").read_text()))
    assert written == expected(inputs, report)
    assert written[1]["spec"]["sessionAffinity"] == "ClientIP"  # the patch did something
    assert written[2]["spec"]["serviceName"] == "mcp-search-headless"
    assert written[3]["spec"]["replicas"] == 1


def test_idempotent_second_check_of_mutated_output_patches_nothing(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(stream(SERVICE, statefulset("search"), STDIO_SERVER))
    assert check("-f", "app.yaml", "--write-mutated", "out").code == 0
    again = check("-f", "out/app.yaml", "-o", "json").json()
    assert [e["patch"] for e in again] == [[], [], []]


def test_stdin_to_stdin_yaml_and_json_list_flattened(tmp_path: Path) -> None:
    items = [yaml.safe_load(SERVICE), yaml.safe_load(CONFIGMAP)]
    (tmp_path / "list.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
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
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["list.yaml", "stdin.yaml"]
    written = list(yaml.safe_load_all((tmp_path / "out/stdin.yaml").read_text()))
    written += list(yaml.safe_load_all((tmp_path / "out/list.yaml").read_text()))
    assert written == expected([yaml.safe_load(STDIO_SERVER), *items], report)


def test_to_stdout_with_the_report_on_stderr(tmp_path: Path) -> None:
    text = stream(CONFIGMAP, SERVICE)
    (tmp_path / "app.yaml").write_text(text)
    run = check("-f", "app.yaml", "--write-mutated", "-", "-o", "json")
    assert run.code == 0
    report = json.loads(run.stderr)
    assert list(yaml.safe_load_all(run.stdout)) == expected(list(yaml.safe_load_all(text)), report)


def test_unwritable_target_is_unusable_input(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(CONFIGMAP)
    (tmp_path / "taken").write_text("a file, not a directory")
    run = check("-f", "app.yaml", "--write-mutated", "taken")
    assert run.code == 2
    assert run.stderr.startswith("taken: cannot write mutated manifests:")
