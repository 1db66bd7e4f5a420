"""Fixtures shared by every test area: paths to the real ToolHive fixtures and real control planes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MCP_ADMISSION_SHARED", ROOT.parent / "shared"))
TOOLHIVE = SHARED / "fixtures" / "toolhive"
CONTROL_PLANE = Path(os.environ.get("CONTROL_PLANE", SHARED / "kube" / "control-plane"))


@dataclass(frozen=True)
class ControlPlane:
    """A running kube-apiserver + controller-manager on loopback (../shared/kube/control-plane)."""

    dir: Path
    kubeconfig: Path
    env: dict[str, str]  # KUBECONFIG, KUBECTL (v1.20.2), KUBE_APISERVER_URL, KUBE_CA_FILE, ...

    @property
    def kubectl(self) -> str:
        return self.env["KUBECTL"]


def _read_env(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip().removeprefix("export ").strip()
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value.strip("'\"")
    return env


def start_control_plane(directory: Path) -> ControlPlane:
    """Start one control plane in `directory` (builds it once per machine first: ~5 minutes)."""
    if not CONTROL_PLANE.exists():
        pytest.skip(f"no control-plane script at {CONTROL_PLANE}")
    out = subprocess.run(
        [str(CONTROL_PLANE), "up", str(directory)], check=True, stdout=subprocess.PIPE, text=True
    ).stdout
    kubeconfig = Path(out.strip().splitlines()[-1].split("=", 1)[1])
    return ControlPlane(directory, kubeconfig, _read_env(directory / "env"))


def stop_control_plane(plane: ControlPlane) -> None:
    subprocess.run([str(CONTROL_PLANE), "down", str(plane.dir)], check=False)


@contextmanager
def running_control_plane(directory: Path) -> Iterator[ControlPlane]:
    """A control plane for the duration of a `with` block: stopped however the block ends."""
    plane = start_control_plane(directory)
    try:
        yield plane
    finally:
        stop_control_plane(plane)


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """One shared control plane for the certs and reconciler tests (each test uses its own namespace).

    Tests that register admission webhooks cluster-wide (tests/e2e) start their own instead.
    """
    with running_control_plane(tmp_path_factory.mktemp("kube")) as plane:
        yield plane


@pytest.fixture(scope="session")
def toolhive() -> Path:
    """The real ToolHive CRDs and manifests, read in place."""
    if not TOOLHIVE.is_dir():
        pytest.skip(f"ToolHive fixtures not found at {TOOLHIVE}")
    return TOOLHIVE
