"""Fixtures shared by every test area: paths to the real ToolHive fixtures and real control planes.

The cluster tests run against a real kube-apiserver v1.20 + kube-controller-manager from the project's
own `tools/control-plane` (built once per machine from Debian's archive), or against an existing
cluster named by MCP_ADMISSION_TEST_KUBECONFIG. Without either they are skipped loudly (a block at the
end of the run says how many and why); with CI=true they fail instead, so that a green CI run has
really run them.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml
from hypothesis import settings as hypothesis_settings

from tests.support import scheduling

# Property tests draw the same examples on every run: a draw that happens to miss a case must not turn
# one CI run red and the next green. (Hypothesis' own advice for CI: derandomize, no example database.)
# How many examples is the profile's business, not each test's: "quick" for local runs, "thorough" for
# CI (.ci/run sets MCP_ADMISSION_HYPOTHESIS_PROFILE=thorough; pytest --hypothesis-profile works too).
HYPOTHESIS_PROFILES = {"quick": 100, "thorough": 1000}
for _name, _examples in HYPOTHESIS_PROFILES.items():
    hypothesis_settings.register_profile(_name, derandomize=True, database=None, max_examples=_examples)
hypothesis_settings.load_profile(os.environ.get("MCP_ADMISSION_HYPOTHESIS_PROFILE", "quick"))

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MCP_ADMISSION_SHARED", ROOT.parent / "shared"))
TOOLHIVE = SHARED / "fixtures" / "toolhive"
# A relative CONTROL_PLANE is taken from the project root, as .ci/run does.
CONTROL_PLANE = ROOT / os.environ.get("CONTROL_PLANE", "tools/control-plane")
EXISTING_KUBECONFIG = os.environ.get("MCP_ADMISSION_TEST_KUBECONFIG", "")
IN_CI = os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}
NOT_RUN = "CLUSTER TEST NOT RUN"  # starts every skip reason of ours, so the summary can find them
HOW_TO_RUN = (
    "to run them, run `tools/control-plane build` (needs Debian 12 and its apt archive; about 5 minutes, "
    "once per machine) or set MCP_ADMISSION_TEST_KUBECONFIG=/path/to/kubeconfig to use an existing cluster"
)


@dataclass(frozen=True)
class ControlPlane:
    """A running kube-apiserver + controller-manager on loopback (tools/control-plane), or an existing
    cluster (MCP_ADMISSION_TEST_KUBECONFIG; then `dir` is the kubeconfig's directory)."""

    dir: Path
    kubeconfig: Path
    env: dict[str, str]  # KUBECONFIG, KUBECTL (v1.20.2), KUBE_APISERVER_URL, KUBE_CA_FILE, ...

    @property
    def kubectl(self) -> str:
        return self.env["KUBECTL"]


def read_env(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip().removeprefix("export ").strip()
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value.strip("'\"")
    return env


@pytest.fixture(autouse=True)
def _root_logger_restored() -> Iterator[None]:
    """The root logger as the test found it: a CLI run in this process (`main(["certs", ...])`) points it
    at the stderr of that moment, under `capsys` a buffer closed with the test; whatever logs later (a
    thread too) would write there ("--- Logging error --- ... I/O operation on closed file")."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


# ------------------------------------------------------------------ can we have a control plane at all?

_CONFIG: list[pytest.Config] = []
_BUILD: list[str | None] = []  # after the first try: None if built, else why not (one line)
_BUILD_TAIL: list[str] = []  # the last lines `build` printed, for the summary when it failed


def pytest_configure(config: pytest.Config) -> None:
    _CONFIG[:] = [config]


# ------------------------------------------------------------------------ on every core (pytest-xdist)

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1"... in a worker; "" otherwise


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which turns the number into workers
def pytest_cmdline_main(config: pytest.Config) -> None:
    """The whole suite (no paths given; without the image and pod tests) runs on every core. Each worker
    brings up the planes its tests need (session fixtures are per worker): cluster-wide parts of two
    workers never meet; the scheduler (`ByBringUp`) sends tests that share a bring-up where it is up.

    A selection (`pytest tests/x.py`) runs in this process, where --pdb and -s work; `-n 2` distributes
    it too, and `-n 0` or `-p no:xdist` keep the whole suite here. Never the scope or group modes of
    xdist: those key tests by id, and schemathesis gives the four tests of tests/webhook/
    test_fuzz.py one id, so three would never run; and xdist 3.8's groups do not reach pytest 9's ids.
    """
    option = config.option
    if (
        not WORKER  # a worker is given its options: never workers of its own
        and config.pluginmanager.hasplugin("xdist")
        and config.args_source is pytest.Config.ArgsSource.TESTPATHS
        and getattr(option, "numprocesses", 0) is None
        and not option.usepdb
        and not _needs_the_machines_node(config)
    ):
        option.numprocesses = "auto"


# The controller names a file; each worker writes there, while it collects, what each test needs; the
# scheduler reads it (tests/support/scheduling.py says why and how).
_PLAN = Path(tempfile.gettempdir()) / f"mcp-admission-xdist-plan-{os.getpid()}.json"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    node.workerinput[scheduling.PLAN_KEY] = str(_PLAN)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> scheduling.ByBringUp | None:
    """`load` (the mode of `-n` alone), the tests that share a bring-up kept on the workers that have it."""
    return scheduling.ByBringUp(config, log, _PLAN) if config.getvalue("dist") == "load" else None


def pytest_unconfigure(config: pytest.Config) -> None:
    if not WORKER:
        _PLAN.unlink(missing_ok=True)


def _needs_the_machines_node(config: pytest.Config) -> bool:
    """Whether the run includes the image and pod tests (root only): they share one image build and the
    machine's one node, which a session per worker would each make (the second waiting on the first)."""
    image_left_out = any(
        Path(p).resolve() == ROOT / "tests" / "image" for p in config.getoption("ignore") or []
    )
    node_left_out = os.environ.get("MCP_ADMISSION_NODE_TESTS", "1") == "0"
    return os.geteuid() == 0 and not (image_left_out and node_left_out)


def _uncaptured() -> Any:
    """Output straight to the terminal: `build` can take minutes and should show its progress."""
    capman = _CONFIG[0].pluginmanager.get_plugin("capturemanager") if _CONFIG else None
    return capman.global_and_fixture_disabled() if capman else nullcontext()


def _run_shown(argv: list[str], prefix: str, shown: Callable[[str], bool]) -> tuple[int, deque[str]]:
    """Run a long build step with the lines `shown` selects on the terminal: its exit code, last lines."""
    tail: deque[str] = deque(maxlen=25)
    with _uncaptured():
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line.rstrip())
            if shown(line):
                sys.stderr.write(f"{prefix}{line}")
        return proc.wait(), tail


def _build(node: bool = False) -> str | None:
    """Run `tools/control-plane build` once per session (a no-op when built): None, or why it failed.
    `node`: also the kubelet and kube-scheduler (`build --node`), for the pod tests (tests/node)."""
    if _BUILD:
        return _BUILD[0]
    why: str | None = None
    if not CONTROL_PLANE.is_file():
        why = f"no control-plane script at {CONTROL_PLANE} (set CONTROL_PLANE to its path); {HOW_TO_RUN}"
    elif not os.access(CONTROL_PLANE, os.X_OK):
        why = f"{CONTROL_PLANE} is not executable (chmod +x it)"
    else:
        argv = [str(CONTROL_PLANE), "build", *(["--node"] if node else [])]
        # quiet when it is built already
        code, tail = _run_shown(argv, "[cluster tests] ", lambda line: "nothing to do" not in line)
        if code != 0:
            why = f"`{CONTROL_PLANE} build` failed (exit {code}; its output is printed above); {HOW_TO_RUN}"
            _BUILD_TAIL[:] = tail
    _BUILD.append(why)
    return why


def _needs_control_plane(item: pytest.Item) -> bool:
    return item.get_closest_marker("cluster") is not None or "control_plane" in getattr(
        item, "fixturenames", ()
    )


@pytest.hookimpl(tryfirst=True)  # the plan is written before xdist tells the controller "collected"
def pytest_collection_finish(session: pytest.Session) -> None:
    """Build before the first test, outside any test's timeout, when a selected test needs it."""
    plan = getattr(session.config, "workerinput", {}).get(scheduling.PLAN_KEY)
    if plan:
        scheduling.write_plan(Path(plan), session.items)
    if session.config.option.collectonly:
        return
    if any("project_image" in getattr(item, "fixturenames", ()) for item in session.items):
        _build_image()
    if EXISTING_KUBECONFIG:
        return
    # A worker runs only some of the tests it collected: it brings up the scratch plane when one asks.
    wanted = not WORKER and any("scratch_plane" in getattr(i, "fixturenames", ()) for i in session.items)
    _SCRATCH_WANTED[:] = [wanted]
    if any(_needs_control_plane(item) for item in session.items):
        _build(node=any(item.get_closest_marker("node") for item in session.items))


def cannot_run(why: str) -> NoReturn:
    """Skip, loudly; but fail under CI=true: CI must never go green having skipped the cluster tests."""
    if IN_CI:
        pytest.fail(f"CI=true and the cluster tests cannot run: {why}", pytrace=False)
    pytest.skip(f"{NOT_RUN}: {why}")


# ------------------------------------------------------------------------------ the project's image

IMAGE_TOOL = ROOT / "tools" / "image"
TEST_IMAGE = "localhost/mcp-admission:test"
_IMAGE: list[str | None] = []  # after the first try: None if built, else why not


def _build_image() -> str | None:
    """`tools/image build` once per session (podman + a base from Debian's archive): None, or why not."""
    if _IMAGE:
        return _IMAGE[0]
    why: str | None = None
    if os.geteuid() != 0:
        why = "building and running the image needs root (podman rootful, mmdebstrap); run as root"
    else:
        # its progress, not podman's step-by-step output
        argv = [str(IMAGE_TOOL), "build", "--tag", TEST_IMAGE]
        code, tail = _run_shown(argv, "[image tests] ", lambda line: line.startswith("image: "))
        if code != 0:
            why = f"`tools/image build` failed (exit {code}): " + " | ".join(list(tail)[-8:])
    _IMAGE.append(why)
    return why


@dataclass(frozen=True)
class Image:
    """The project's image, built from the Dockerfile by tools/image, and podman configured to run it."""

    name: str

    def podman(
        self, *args: str, timeout: float = 120, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(IMAGE_TOOL), "podman", *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )


@pytest.fixture(scope="session")
def project_image() -> Image:
    why = _build_image()
    if why:
        cannot_run(why)
    return Image(TEST_IMAGE)


# -------------------------------------------------------------------------------------- control planes


def _launch(directory: Path) -> subprocess.Popen[str]:
    """`control-plane up` in the background (once built): planes come up side by side."""
    if EXISTING_KUBECONFIG:
        pytest.skip(
            f"{NOT_RUN}: it needs a control plane of its own (it restarts the apiserver, or needs a cluster "
            f"without ToolHive's CRDs), but MCP_ADMISSION_TEST_KUBECONFIG={EXISTING_KUBECONFIG} selects "
            "an existing cluster; unset it to run this test"
        )
    why = _build()
    if why:
        cannot_run(why)
    return subprocess.Popen(
        [str(CONTROL_PLANE), "up", str(directory)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _ready(directory: Path, proc: subprocess.Popen[str]) -> ControlPlane:
    """The plane `_launch` is bringing up, once it is up."""
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:  # built, so this is a real problem: an error, never a skip
        pytest.fail(
            f"`{CONTROL_PLANE} up {directory}` failed (exit {proc.returncode}):\n{stderr[-4000:]}",
            pytrace=False,
        )
    kubeconfig = Path(stdout.strip().splitlines()[-1].split("=", 1)[1])
    return ControlPlane(directory, kubeconfig, read_env(directory / "env"))


def start_control_plane(directory: Path) -> ControlPlane:
    """Start one control plane of this test's own in `directory` (the first build takes ~5 minutes)."""
    return _ready(directory, _launch(directory))


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


def existing_cluster() -> ControlPlane:
    """The cluster MCP_ADMISSION_TEST_KUBECONFIG names: used as it is, never started or stopped."""
    kubeconfig = Path(EXISTING_KUBECONFIG).expanduser().resolve()
    if not kubeconfig.is_file():
        pytest.fail(f"MCP_ADMISSION_TEST_KUBECONFIG={EXISTING_KUBECONFIG}: no such file", pytrace=False)
    kubectl = os.environ.get("KUBECTL") or shutil.which("kubectl") or "kubectl"
    return ControlPlane(kubeconfig.parent, kubeconfig, {"KUBECONFIG": str(kubeconfig), "KUBECTL": kubectl})


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """The one control plane of the session: every cluster test but tests/node (a node of its own) and
    the few that need a plane no one else touches (`scratch_plane`).

    Namespaced objects go into each test's own namespaces. What is cluster-wide (webhook configurations,
    a reconciler of every namespace) is installed by a package-scoped fixture (`cluster_wide`) and removed
    when that package ends, so no two packages' cluster-wide parts meet.
    """
    if EXISTING_KUBECONFIG:
        yield existing_cluster()
        return
    if any(_SCRATCH_WANTED) and not _SCRATCH:  # the scratch plane comes up beside this one, not after
        directory = tmp_path_factory.mktemp("scratch-kube")
        _SCRATCH.append((directory, _launch(directory)))
    try:
        with running_control_plane(tmp_path_factory.mktemp("kube")) as plane:
            yield plane
    finally:
        if _SCRATCH and not _SCRATCH_TAKEN:  # launched, but no test came to take it: stop it all the same
            directory, proc = _SCRATCH[0]
            proc.communicate()
            subprocess.run([str(CONTROL_PLANE), "down", str(directory)], check=False)


_SCRATCH_WANTED: list[bool] = []  # set at collection: a selected test uses scratch_plane
_SCRATCH: list[tuple[Path, subprocess.Popen[str]]] = []  # its `up`, once launched
_SCRATCH_TAKEN: list[bool] = []  # scratch_plane has taken it (and stops it)


@pytest.fixture(scope="session")
def scratch_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A second plane for what cannot share the first: an apiserver restarted and etcd compacted
    (tests/reconciler), a cluster without ToolHive's CRDs (tests/audit). Its tests leave it as they found
    it: the apiserver serving again, no CRD, so any order of them works. Brought up beside the shared
    plane when the session needs both."""
    if not _SCRATCH:
        directory = tmp_path_factory.mktemp("scratch-kube")
        _SCRATCH.append((directory, _launch(directory)))
    directory, proc = _SCRATCH[0]
    _SCRATCH_TAKEN.append(True)
    plane = _ready(directory, proc)
    try:
        yield plane
    finally:
        stop_control_plane(plane)


@pytest.fixture(scope="session")
def cluster_wide(control_plane: ControlPlane) -> ControlPlane:
    """The shared plane, for a package that installs cluster-wide parts (and removes them at its end).

    Never an existing cluster's: those parts would meet whatever else runs there.
    """
    if EXISTING_KUBECONFIG:
        pytest.skip(
            f"{NOT_RUN}: it installs cluster-wide webhooks or a reconciler of every namespace, and "
            f"MCP_ADMISSION_TEST_KUBECONFIG={EXISTING_KUBECONFIG} selects an existing cluster; unset it to "
            "run this test"
        )
    return control_plane


@pytest.fixture(scope="session")
def toolhive_crds(control_plane: ControlPlane, toolhive: Path) -> None:
    """ToolHive's CRDs (made loadable on v1.20) installed and established, once per session."""
    crds = toolhive / "crds-k8s-1.20"
    names = [
        f"crd/{yaml.safe_load(path.read_text())['metadata']['name']}" for path in sorted(crds.glob("*.yaml"))
    ]
    # Server-side: the VirtualMCPServer CRD is too large for client-side apply's annotation; and another
    # session on the same cluster may have installed them already.
    for args in (
        ["apply", "--server-side", "--force-conflicts", "-f", str(crds)],
        ["wait", "--for", "condition=established", "--timeout=60s", *names],
    ):
        argv = [control_plane.kubectl, "--kubeconfig", str(control_plane.kubeconfig), *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"kubectl {' '.join(args)}:\n{done.stderr}"


@pytest.fixture(scope="session")
def toolhive() -> Path:
    """The real ToolHive CRDs and manifests, read in place."""
    if not TOOLHIVE.is_dir():
        pytest.skip(f"ToolHive fixtures not found at {TOOLHIVE}")
    return TOOLHIVE


# ------------------------------------------------------------------ say it at the end: what did not run


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if isinstance(report, pytest.TestReport)
        and (NOT_RUN in _skip_reason(report) or "cluster" in report.keywords)
    ]
    if not skipped:
        return
    tr = terminalreporter
    count = len(skipped)
    title = "1 CLUSTER TEST WAS SKIPPED" if count == 1 else f"{count} CLUSTER TESTS WERE SKIPPED"
    tr.section(title, sep="!", red=True, bold=True)
    for reason, n in Counter(_skip_reason(r).removeprefix(f"{NOT_RUN}: ") for r in skipped).most_common():
        tr.write_line(f"{n:4d} x {reason}", yellow=True, bold=True)
    if _BUILD_TAIL:
        tr.write_line(f"last lines of `{CONTROL_PLANE} build`:", bold=True)
        for line in _BUILD_TAIL:
            tr.write_line(f"    {line}")
    tr.write_line(
        "They need a real kube-apiserver and did not test anything. With CI=true a missing control plane "
        "fails the run instead.",
        red=True,
        bold=True,
    )
