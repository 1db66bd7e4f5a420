"""Exit codes: 0 nothing fails, 1 a denial or (--strict) a warning, 2 unusable input; 2 outranks 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from .manifests import CONFIGMAP, SSE_SERVER, STDIO_SERVER, stream
from .runner import check, script

pytestmark = pytest.mark.usefixtures("in_tmp")


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_0_clean_and_0_with_warnings(tmp_path: Path) -> None:
    assert check("-f", write(tmp_path / "a.yaml", CONFIGMAP)).code == 0
    run = check("-f", write(tmp_path / "b.yaml", SSE_SERVER))
    assert run.code == 0 and "session-storage:" in run.stdout


def test_1_under_strict_for_any_warning(tmp_path: Path) -> None:
    assert check("-f", write(tmp_path / "a.yaml", CONFIGMAP), "--strict").code == 0
    run = check("-f", write(tmp_path / "b.yaml", STDIO_SERVER), "--strict")  # fixed by a patch: still fails
    assert run.code == 1
    assert run.stdout.endswith("(--strict: warnings fail)\n")


def test_1_for_a_denial(tmp_path: Path) -> None:
    config = write(tmp_path / "config.yaml", "policies:\n  session-storage:\n    mode: enforce\n")
    write(tmp_path / "b.yaml", stream(CONFIGMAP, SSE_SERVER))
    run = check("-f", "b.yaml", "--config", config)
    assert run.code == 1
    assert run.stdout.splitlines() == [
        "b.yaml:6 MCPServer/tools/weather session-storage: denied: spec.replicas 2 without sessionStorage "
        "redis: sessions are not shared",
        "2 objects checked: 0 patched, 0 warnings, 1 denied, 0 input errors",
    ]


def test_config_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path / "config.yaml", "policies:\n  session-storage:\n    mode: enforce\n")
    monkeypatch.setenv("MCP_ADMISSION_CONFIG", str(config))
    assert check("-f", write(tmp_path / "b.yaml", SSE_SERVER)).code == 1


def test_enforced_policy_that_patches_does_not_deny(tmp_path: Path) -> None:
    """stdio-replicas fixes what it finds: enforcing it still admits the (capped) object."""
    config = write(tmp_path / "config.yaml", "policies:\n  stdio-replicas:\n    mode: enforce\n")
    run = check("-f", write(tmp_path / "a.yaml", STDIO_SERVER), "--config", config, "-o", "json")
    (entry,) = run.json()
    assert (run.code, entry["denial"]) == (0, None)
    assert entry["patch"] == [{"op": "replace", "path": "/spec/replicas", "value": 1}]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("policies:\n  session-storage:\n    mode: loud\n", "policies.session-storage.mode"),
        ("polices: {}\n", "polices: unknown setting"),
        ("policies: [\n", ":2: not valid YAML"),
    ],
)
def test_2_for_a_bad_configuration(tmp_path: Path, config: str, message: str) -> None:
    path = write(tmp_path / "config.yaml", config)
    run = check("-f", write(tmp_path / "a.yaml", CONFIGMAP), "--config", path)
    assert (run.code, run.stdout) == (2, "")
    assert run.stderr.startswith(f"mcp-admission check: {path}")
    assert message in run.stderr


def test_2_for_a_missing_configuration(tmp_path: Path) -> None:
    run = check("-f", write(tmp_path / "a.yaml", CONFIGMAP), "--config", tmp_path / "nope.yaml")
    assert run.code == 2 and "nope.yaml: cannot read configuration" in run.stderr


def test_2_outranks_1(tmp_path: Path) -> None:
    config = write(tmp_path / "config.yaml", "policies:\n  session-storage:\n    mode: enforce\n")
    run = check("-f", write(tmp_path / "b.yaml", SSE_SERVER), "-f", "missing.yaml", "--config", config)
    assert run.code == 2
    assert "1 denied, 1 input errors" in run.stdout


def test_console_script_exit_codes(tmp_path: Path) -> None:
    """The installed entry point returns the codes to the shell, with no traceback."""
    write(tmp_path / "a.yaml", SSE_SERVER)
    assert script("-f", "a.yaml", cwd=tmp_path).code == 0
    assert script("-f", "a.yaml", "--strict", cwd=tmp_path).code == 1
    broken = script("-f", "nope.yaml", cwd=tmp_path)
    assert (broken.code, broken.stderr) == (2, "nope.yaml: no such file or directory\n")


def test_help_documents_the_exit_codes() -> None:
    run = script("--help")
    assert run.code == 0
    for code in ("0  nothing fails the run", "1  a policy in enforce mode denies", "2  unusable input"):
        assert code in run.stdout
