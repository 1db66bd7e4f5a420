"""One import name: the built wheel holds mcp_admission and nothing else at top level, and the
subcommands load only what they run (check never loads the server's or the cluster client's stack)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "mcp_admission" / "examples" / "mcpserver-sse.yaml"


def test_the_wheel_has_one_top_level_name(tmp_path: Path) -> None:
    # From a copy: setuptools stages in ./build, and stale files there would end up in the wheel.
    source = tmp_path / "source"
    shutil.copytree(
        ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__")
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            tmp_path,
            source,
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("mcp_admission-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        assert archive.read(top_level).decode().split() == ["mcp_admission"]
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {"mcp_admission"}
    for mapped in (
        "policies/engine/decide.py",
        "webhook/admission.py",
        "certs/pem.py",
        "reconciler/services.py",
    ):
        assert f"mcp_admission/{mapped}" in names

    # Installed alone (no source tree on the path), the bare folder names do not import.
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", target, wheel],
        check=True,
        capture_output=True,
        timeout=300,
    )
    probe = (
        "import importlib.util as u, json, sys; sys.path[:0] = [sys.argv[1]];"
        "import mcp_admission.policies as p;"
        "print(json.dumps([p.__file__] + [n for n in ('policies', 'webhook', 'certs', 'reconciler')"
        " if u.find_spec(n) is not None]))"
    )
    # -I: isolated (no cwd, no user site, no PYTHONPATH); the venv's site-packages supply dependencies.
    out = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(target)],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = json.loads(out)
    assert found[0].startswith(str(target))
    assert found[1:] == []


def test_check_loads_neither_the_server_nor_the_cluster_client() -> None:
    probe = (
        "import sys, json; from mcp_admission.cli import main; code = main(['check', '-f', sys.argv[1]]);"
        "print(json.dumps([code, sorted({m.split('.')[0] for m in sys.modules})]), file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(EXAMPLE)], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    code, loaded = json.loads(result.stderr.strip().splitlines()[-1])
    assert code == 0
    heavy = {"fastapi", "starlette", "uvicorn", "cryptography", "kubernetes", "urllib3", "prometheus_client"}
    # Nor pydantic: without a configuration file the engine's settings are records (mcp_admission.records).
    heavy |= {"pydantic", "pydantic_core"}
    assert heavy.isdisjoint(loaded), heavy & set(loaded)
