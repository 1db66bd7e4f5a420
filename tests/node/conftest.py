"""The install as users do it, as real pods: the image built from the Dockerfile, loaded into the
containerd of a node of our own (`tools/control-plane up --node`), the legacy overlay applied with
kubectl, changed only where this cluster needs it (the image name; policy/v1beta1 for the PDB on 1.20).

One node per machine: the whole session shares it, each test in its own namespace. The installs take
turns on it, one per module (`installed` here, the chart's in test_chart.py): both register cluster-wide
webhooks for the same writes, and with both there, either one would patch what the other missed.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import (
    CONTROL_PLANE,
    EXISTING_KUBECONFIG,
    ControlPlane,
    Image,
    cannot_run,
    read_env,
)
from tests.e2e.harness import Kubectl, Obj, dump, policy_warnings, render
from tests.support.objects import OPT_IN, service

from .rolling import rollout_status

NS = "mcp-admission"
DEPLOYMENTS = ("mcp-admission-webhook", "mcp-admission-reconciler")
WEBHOOK_PODS = "app.kubernetes.io/name=mcp-admission,app.kubernetes.io/component=webhook"
RECONCILER_PODS = "app.kubernetes.io/name=mcp-admission,app.kubernetes.io/component=reconciler"
NODE_LOCK = "/run/lock/mcp-admission-node-tests.lock"
NODE_LOCK_WAIT = 900
NODE_OWNER = Path("/run/mcp-admission-node.owner")  # written by `tools/control-plane up --node`
# On by default (CI runs them); MCP_ADMISSION_NODE_TESTS=0 leaves them out of a run, e.g. on a
# machine where another session holds the node for long.
ENABLED = os.environ.get("MCP_ADMISSION_NODE_TESTS", "1") != "0"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselected with MCP_ADMISSION_NODE_TESTS=0 (not skipped: under CI=true a skip fails the run)."""
    if ENABLED:
        return
    chosen = [item for item in items if item.get_closest_marker("node") is None]
    if len(chosen) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in chosen])
        items[:] = chosen


def installable(objs: list[Obj], image: str) -> list[Obj]:
    """The overlay as this cluster takes it: our image, and policy/v1beta1 for the PDB (1.20)."""
    out: list[Obj] = json.loads(json.dumps(objs))
    for obj in out:
        if obj["kind"] == "PodDisruptionBudget":
            obj["apiVersion"] = "policy/v1beta1"
        if obj["kind"] == "Deployment":
            spec = obj["spec"]["template"]["spec"]
            for container in spec.get("initContainers", []) + spec["containers"]:
                assert container["image"].startswith("mcp-admission:"), container["image"]
                container["image"] = image
    return out


@contextmanager
def machine_node_lock() -> Iterator[None]:
    """One node per machine: a second test session waits for the first one's (bounded), never fails."""
    with open(NODE_LOCK, "a") as lock:
        deadline = time.monotonic() + NODE_LOCK_WAIT
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"another test session held the machine's node for {NODE_LOCK_WAIT}s ({NODE_LOCK})"
                    )
                time.sleep(1)
        yield


@pytest.fixture(scope="session")
def node_plane(project_image: Image, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    if EXISTING_KUBECONFIG:
        pytest.skip("the pod tests need a node of their own; unset MCP_ADMISSION_TEST_KUBECONFIG")
    with machine_node_lock():
        # Holding the lock, no other test session has a node: one still up was left by a session that
        # was killed before its teardown (tools/control-plane records whose it is).
        if NODE_OWNER.is_file():
            subprocess.run(
                [str(CONTROL_PLANE), "down", NODE_OWNER.read_text().strip()], check=False, timeout=300
            )
        yield from _node_plane(project_image, tmp_path_factory)


def _node_plane(project_image: Image, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    directory = tmp_path_factory.mktemp("node")
    archive = directory / "image.tar"
    saved = subprocess.run(
        [str(CONTROL_PLANE.parent / "image"), "save", project_image.name, str(archive)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert saved.returncode == 0, saved.stderr
    plane_dir = directory / "plane"
    proc = subprocess.run(
        [str(CONTROL_PLANE), "up", "--node", "--load", str(archive), str(plane_dir)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    archive.unlink()
    if proc.returncode != 0 and "this machine cannot run a node:" in proc.stderr:
        cannot_run(proc.stderr.strip().splitlines()[-1].split("error: ", 1)[-1])
    assert proc.returncode == 0, f"`control-plane up --node` failed:\n{proc.stderr[-4000:]}"
    plane = ControlPlane(plane_dir, plane_dir / "kubeconfig", read_env(plane_dir / "env"))
    try:
        yield plane
    finally:
        subprocess.run([str(CONTROL_PLANE), "down", str(plane_dir)], check=False, timeout=300)
        shutil.rmtree(plane_dir / "containerd", ignore_errors=True)  # the image's layers; logs stay


@pytest.fixture(scope="session")
def node_kubectl(node_plane: ControlPlane) -> Kubectl:
    return Kubectl(node_plane.kubectl, node_plane.kubeconfig)


@pytest.fixture(scope="session")
def toolhive_crds(node_kubectl: Kubectl, toolhive: Path) -> None:
    """ToolHive's CRDs (the 1.20 copies), established."""
    node_kubectl("create", "-f", str(toolhive / "crds-k8s-1.20"))
    node_kubectl("wait", "--for", "condition=established", "--timeout=60s", "crd", "--all")


@pytest.fixture(scope="module")
def installed(node_kubectl: Kubectl, project_image: Image, toolhive_crds: None) -> Iterator[Kubectl]:
    """The legacy overlay applied and both Deployments rolled out (`kubectl rollout status`); deleted
    after the module (not waiting for the pods), so that the next install has the node to itself."""
    kubectl = node_kubectl
    objs = installable(render("overlays/legacy"), project_image.name)
    kubectl("apply", "-f", "-", stdin=dump(objs))
    for name in DEPLOYMENTS:
        status = rollout_status(kubectl, NS, name)
        assert status.returncode == 0, f"{name} did not roll out:\n{status.stderr}\n{pods(kubectl)}"
    yield kubectl
    # All but the other namespaces the overlay labels (kube-system: it only adds the opt-out label).
    ours = [o for o in objs if o["kind"] != "Namespace" or o["metadata"]["name"] == NS]
    kubectl("delete", "--ignore-not-found", "--wait=false", "-f", "-", stdin=dump(ours))


def pods(kubectl: Kubectl, namespace: str = NS) -> str:
    """For failure messages: the pods and their events."""
    out = kubectl("-n", namespace, "get", "pods", "-o", "wide", check=False).stdout
    out += kubectl("-n", namespace, "get", "events", "--sort-by=.lastTimestamp", check=False).stdout[-3000:]
    return out


def namespace(kubectl: Kubectl, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    return name


def an_mcp_service_comes_back_patched(kubectl: Kubectl, ns: str) -> None:
    """An opted-in Service applied through the apiserver: the webhook warned, and the stored Service
    has its patch (sessionAffinity: ClientIP)."""
    applied = kubectl("-n", ns, "apply", "-f", "-", stdin=dump([service("sticky", OPT_IN)]))
    assert any("session-affinity" in w for w in policy_warnings(applied.stderr)), applied.stderr
    stored = kubectl.get("service", "sticky", ns)
    assert stored is not None and stored["spec"]["sessionAffinity"] == "ClientIP"
