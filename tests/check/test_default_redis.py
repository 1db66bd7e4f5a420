"""`check --config` with toolhive.defaultSessionStorage: ToolHive's examples at two replicas, in one stream
as CI pipes them (`kubectl kustomize . | mcp-admission check -f -`)."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.policies.toolhive_objects import ADVICE, EXAMPLES, NOT_SHARED, example

from .runner import check


def findings(toolhive: Path, tmp_path: Path, default: str | None) -> dict[str, list[str]]:
    stream = yaml.safe_dump_all([example(toolhive, kind, replicas=2) for kind in EXAMPLES]).encode()
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump({} if default is None else {"toolhive": {"defaultSessionStorage": default}})
    )
    run = check("-f", "-", "-o", "json", "--config", config, stdin=stream)
    assert run.code == 0, run.stderr
    assert "notice" not in run.stdout + run.stderr  # only the audit reads the operator
    return {e["kind"]: [f"{w['policy']}: {w['message']}" for w in e["warnings"]] for e in run.json()}


def test_memory_is_the_default_and_todays_warnings(toolhive: Path, tmp_path: Path) -> None:
    today = {kind: [NOT_SHARED] for kind in EXAMPLES}
    assert findings(toolhive, tmp_path, None) == findings(toolhive, tmp_path, "memory") == today


def test_redis_no_false_session_warnings(toolhive: Path, tmp_path: Path) -> None:
    assert findings(toolhive, tmp_path, "redis") == {kind: [ADVICE] for kind in EXAMPLES}
