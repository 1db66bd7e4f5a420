"""The image users run, built from the Dockerfile (tools/image: podman, a base from Debian's archive).

Each container runs with no network and a read-only root filesystem, as the shipped pods do; what
needs HTTPS is asked from inside the container (`podman exec`), so no host port is ever opened.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_admission.certs.generate import generate_bundle, write_bundle
from tests.conftest import ROOT, Image
from tests.support import eventually

UID = "65532"
EXAMPLES = ROOT / "mcp_admission" / "examples"
# webhook.drainSeconds + gracePeriod's defaults, which the shipped Deployment's 35 s cover
STOP_SECONDS = 10 + 20
# What a pod's readiness probe does, from inside the container: GET /readyz over TLS, CA verified.
READYZ = (
    "import ssl, sys, urllib.request\n"
    "ctx = ssl.create_default_context(cafile='/etc/mcp-admission/tls/ca.crt')\n"
    "try:\n"
    "    r = urllib.request.urlopen('https://localhost:8443/readyz', context=ctx, timeout=3)\n"
    "    print(r.status, r.read().decode())\n"
    "except Exception as e:\n"
    "    print('no', e); sys.exit(1)\n"
)


def run_args(*extra: str, remove: bool = True) -> list[str]:
    """`podman run` as the shipped pods run it: no network, read-only root, no capabilities."""
    return ["run", *(["--rm"] if remove else []), "--network=none", "--read-only", "--cap-drop=ALL", *extra]


@pytest.fixture
def tls_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "tls"
    directory.mkdir()
    write_bundle(generate_bundle("mcp-admission", "mcp-admission", extra_sans=("localhost",)), directory)
    (directory / "tls.key").chmod(0o644)  # the test's own throwaway key: readable by UID 65532
    directory.chmod(0o755)
    return directory


@pytest.fixture
def server(project_image: Image, tls_dir: Path) -> Iterator[str]:
    """`serve` as the Deployment starts it, detached; removed however the test ends."""
    name = f"mcp-admission-test-{uuid.uuid4().hex[:8]}"
    started = project_image.podman(
        # kept after it exits (no --rm): the test reads its exit code and logs
        *run_args(
            "-d",
            "--name",
            name,
            "--tmpfs",
            "/tmp",
            "-v",
            f"{tls_dir}:/etc/mcp-admission/tls:ro",
            remove=False,
        ),
        project_image.name,
        "serve",
    )
    assert started.returncode == 0, started.stderr
    try:
        yield name
    finally:
        project_image.podman("rm", "--force", "--time", "0", name)


def test_the_image_runs_as_the_numeric_non_root_user(project_image: Image) -> None:
    # runAsNonRoot can only verify a numeric UID: the image must say it, not a name.
    inspected = project_image.podman("image", "inspect", project_image.name, check=True)
    assert json.loads(inspected.stdout)[0]["Config"]["User"] == f"{UID}:{UID}"
    ran = project_image.podman(*run_args("--entrypoint", "id"), project_image.name)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split()[:2] == [f"uid={UID}(mcp-admission)", f"gid={UID}(mcp-admission)"]


def test_check_works_on_a_mounted_file_with_a_read_only_root(project_image: Image) -> None:
    ran = project_image.podman(
        *run_args("-v", f"{EXAMPLES}:/work:ro"), project_image.name, "check", "/work/mcpserver-stdio.yaml"
    )
    assert ran.returncode == 0, ran.stderr
    assert "/work/mcpserver-stdio.yaml:3 MCPServer/mcp-tools/filesystem stdio-replicas" in ran.stdout
    assert "1 objects checked: 1 patched" in ran.stdout


def test_check_on_a_missing_file_is_a_clear_error(project_image: Image) -> None:
    ran = project_image.podman(*run_args(), project_image.name, "check", "/nonexistent.yaml")
    assert ran.returncode != 0
    assert "/nonexistent.yaml" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_serve_answers_readyz_and_sigterm_ends_it_with_0_within_the_grace_period(
    project_image: Image, server: str
) -> None:
    def ready() -> str | None:
        probe = project_image.podman("exec", server, "python3", "-c", READYZ, timeout=30)
        return probe.stdout if probe.returncode == 0 else None

    assert eventually(ready, "serve to answer /readyz inside the container", timeout=60).startswith("200")
    who = project_image.podman("exec", server, "id", "-u", check=True)
    assert who.stdout.strip() == UID

    t0 = time.monotonic()
    project_image.podman("kill", "--signal", "TERM", server, check=True)
    waited = project_image.podman("wait", server, timeout=STOP_SECONDS + 30)
    elapsed = time.monotonic() - t0
    assert waited.stdout.strip() == "0", waited.stdout + waited.stderr
    assert elapsed < STOP_SECONDS, f"SIGTERM took {elapsed:.1f}s, more than drain + grace ({STOP_SECONDS}s)"
    logs = project_image.podman("logs", server, check=True)
    records = [json.loads(line) for line in (logs.stdout + logs.stderr).splitlines() if line.startswith("{")]
    assert records, "serve logged no JSON"
