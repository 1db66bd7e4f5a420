#!/usr/bin/env python3
"""mypy --strict over the package as it installs: mcp_admission with its mapped folders inside it.

mypy follows no import hooks, so it cannot see the editable install's mapping of `policies/` to
`mcp_admission.policies` ([tool.setuptools.package-dir]). This lays the installed layout out as
symlinks under build/typecheck (from pyproject.toml, so the mapping is written once), runs mypy there
with the project's [tool.mypy] settings, and reports paths as they are in the repository.

Usage: python tools/typecheck.py [mypy options]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "typecheck"
PACKAGE = "mcp_admission"
ALSO = ("tests", "bench")  # checked too, beside the package, as they import it


def lay_out() -> dict[str, str]:
    """Build the tree; return {path in the tree: path in the repository} for the mapped folders."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapped = project["tool"]["setuptools"]["package-dir"]
    shutil.rmtree(TREE, ignore_errors=True)
    package = TREE / PACKAGE
    package.mkdir(parents=True)
    for child in (ROOT / PACKAGE).iterdir():
        if child.name != "__pycache__":
            (package / child.name).symlink_to(child)
    shown: dict[str, str] = {}
    for name, folder in mapped.items():
        inside = Path(*name.split("."))
        (TREE / inside).symlink_to(ROOT / folder)
        shown[f"{inside.as_posix()}/"] = f"{folder}/"
    for name in ALSO:
        (TREE / name).symlink_to(ROOT / name)
    return shown


def main() -> int:
    shown = lay_out()
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), PACKAGE, *ALSO]
    result = subprocess.run(
        [*command, *sys.argv[1:]], cwd=TREE, capture_output=True, text=True, env={**os.environ}
    )
    for stream, out in ((result.stdout, sys.stdout), (result.stderr, sys.stderr)):
        for line in stream.splitlines():
            for tree_path, repo_path in shown.items():
                if line.startswith(tree_path):
                    line = repo_path + line[len(tree_path) :]
                    break
            print(line, file=out)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
