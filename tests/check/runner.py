"""Running `mcp-admission check` for real: in this process through `mcp_admission.cli.main`, or as the
installed console script in a subprocess (stdin, the shipped entry point)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mcp_admission.cli import main


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def check(*args: str | Path, stdin: bytes | None = None) -> Run:
    """`mcp-admission check ARGS` through the CLI's main(), with real stdin/stdout/stderr streams."""
    return in_process("check", *args, stdin=stdin)


def in_process(*args: str | Path, stdin: bytes | None = None) -> Run:
    """`mcp-admission ARGS` through the CLI's main() in this process: what a process shows but its
    start-up (a second or more with the Kubernetes client's imports), so each command keeps at least
    one test through the console script too."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin or b""), encoding="utf-8")
    sys.stdout, sys.stderr = out, err
    try:
        code = main([*map(str, args)])
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
    return Run(code, out.getvalue(), err.getvalue())


def console_script() -> str:
    exe = Path(sys.executable).with_name("mcp-admission")
    if exe.exists():
        return str(exe)
    found = shutil.which("mcp-admission")
    if found is None:
        pytest.skip("the mcp-admission console script is not installed")
    return found


def script(*args: str | Path, stdin: bytes | None = None, cwd: Path | None = None) -> Run:
    """The installed console script, as CI runs it."""
    proc = subprocess.run(
        [console_script(), "check", *map(str, args)],
        input=stdin or b"",
        capture_output=True,
        cwd=cwd,
        timeout=120,
    )
    return Run(proc.returncode, proc.stdout.decode(), proc.stderr.decode())
