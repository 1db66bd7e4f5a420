"""The pre-commit hook (.pre-commit-hooks.yaml), run the way pre-commit runs it: its entry, then the
hook's args, then the changed files (pre-commit itself would install the package from the network)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

from .manifests import CONFIGMAP, SERVICE
from .runner import Run, script

ROOT = Path(__file__).resolve().parents[2]


def hook() -> dict[str, Any]:
    (only,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert isinstance(only, dict)
    return only


def run_hook(cwd: Path, *files: str, args: tuple[str, ...] = ()) -> Run:
    program, command, *options = shlex.split(hook()["entry"])
    assert (program, command) == ("mcp-admission", "check")
    return script(*options, *args, *files, cwd=cwd)


def test_the_hook_declares_what_pre_commit_needs() -> None:
    found = hook()
    assert found["id"] == "mcp-admission-check"
    assert found["language"] == "python"  # pre-commit installs this repository's package
    assert set(found["types_or"]) == {"yaml", "json"}
    assert found.get("pass_filenames", True)  # the changed files, as PATH arguments


def test_changed_manifests_are_checked(tmp_path: Path) -> None:
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s/svc.yaml").write_text(SERVICE)
    (tmp_path / "k8s/cm.yaml").write_text(CONFIGMAP)
    run = run_hook(tmp_path, "k8s/svc.yaml", "k8s/cm.yaml")
    assert run.code == 0
    assert run.stdout.startswith("k8s/svc.yaml:1 Service/default/notes session-affinity:")
    strict = run_hook(tmp_path, "k8s/svc.yaml", "k8s/cm.yaml", args=("--strict",))
    assert strict.code == 1


def test_a_commit_with_no_manifest_passes_and_a_broken_one_fails(tmp_path: Path) -> None:
    (tmp_path / "values.yaml").write_text("replicaCount: 2\n")
    (tmp_path / "package.json").write_text('{"name": "x"}\n')
    run = run_hook(tmp_path, "values.yaml", "package.json")
    assert (run.code, run.stderr) == (
        0,
        "values.yaml: skipped: no Kubernetes object\npackage.json: skipped: no Kubernetes object\n",
    )
    (tmp_path / "broken.yaml").write_text("kind: Service\nmetadata: {name: x}\n")
    assert run_hook(tmp_path, "values.yaml", "broken.yaml").code == 2
