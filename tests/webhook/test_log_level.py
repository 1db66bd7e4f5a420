"""`mcp-admission serve` with a log level from the environment: argparse never checks it, `run` does."""

from __future__ import annotations

import pytest

from mcp_admission.cli import main


def test_a_bad_log_level_in_the_environment_is_refused_clearly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MCP_ADMISSION_LOG_LEVEL", "trace")
    # A certificate that cannot be read: were the level let through, serve would stop there, never listen.
    code = main(["serve", "--cert-file", "/nonexistent/tls.crt"])
    assert code == 2
    assert capsys.readouterr().err == (
        "mcp-admission serve: MCP_ADMISSION_LOG_LEVEL: must be one of debug, info, warning, error\n"
    )
