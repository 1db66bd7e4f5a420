"""HA and resilience against real apiservers: one Lease for two reconcilers, SIGTERM, an apiserver restart."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from mcp_admission.kube import Kube, KubeError, api_client
from mcp_admission.policies import PolicyConfig
from mcp_admission.reconciler import events
from mcp_admission.reconciler.controller import Reconciler
from mcp_admission.reconciler.informer import Gone, Informer
from mcp_admission.reconciler.leader import LeaderElector
from mcp_admission.reconciler.metrics import ReconcilerMetrics
from mcp_admission.reconciler.settings import ReconcilerSettings
from tests.support import eventually, free_port
from tests.support.kube import converged, create_namespace, create_statefulset, service, statefulset
from tests.support.reconciler import Running, Start

from ..conftest import ROOT, ControlPlane

pytestmark = pytest.mark.cluster
# A bound with a wide margin, not a timing: a watch left open made stopping wait 5 s on each informer.
PROMPT = 8.0
FAST_LEASE = {"lease_duration_seconds": 6, "renew_deadline_seconds": 4, "retry_period_seconds": 0.5}


def lease(kube: Kube, namespace: str) -> dict[str, Any]:
    found = kube.get(f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/mcp-admission-reconciler")
    return (found or {}).get("spec") or {}


class Candidate:
    """One replica: a Reconciler that runs only while its LeaderElector holds the Lease."""

    def __init__(self, kube: Kube, namespace: str, identity: str) -> None:
        settings = ReconcilerSettings(lease_namespace=namespace, **FAST_LEASE)  # type: ignore[arg-type]
        self.registry = CollectorRegistry()
        metrics = ReconcilerMetrics(self.registry)
        self.reconciler = Reconciler(kube, PolicyConfig(), settings, metrics, (namespace,))
        self.elector = LeaderElector(kube, settings, identity, lambda on: metrics.is_leader.set(int(on)))
        self.stop = threading.Event()
        self.result: list[bool] = []
        self.thread = threading.Thread(
            target=lambda: self.result.append(self.elector.run(self.stop, self.reconciler.run)), daemon=True
        )
        self.thread.start()

    def metric(self, name: str) -> float:
        return self.registry.get_sample_value(f"mcp_admission_reconciler_{name}", {}) or 0.0

    def shutdown(self) -> None:
        self.stop.set()
        self.thread.join(20)


def test_two_reconcilers_one_lease(kube: Kube, namespace: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mcp_admission.reconciler.leader")
    create_statefulset(kube, statefulset("web", namespace))
    first = Candidate(kube, namespace, "replica-a")
    second = None
    try:
        eventually(lambda: lease(kube, namespace).get("holderIdentity") == "replica-a", "replica-a leads")
        second = Candidate(kube, namespace, "replica-b")
        eventually(lambda: converged(kube, namespace, "web"), "the leader's Services")
        # It must stay a standby: it has looked and said so, and replica-a has renewed several times
        # since, each renewal a retry period in which replica-b tried again.
        eventually(lambda: "held by replica-a" in caplog.text, "replica-b to stand by")
        renewals: set[str] = set()

        def renewed_several_times() -> bool:
            renewals.add(str(lease(kube, namespace).get("renewTime")))
            return len(renewals) > 4

        eventually(renewed_several_times, "several renewals by replica-a while replica-b stands by")
        assert lease(kube, namespace)["holderIdentity"] == "replica-a"
        assert (first.metric("is_leader"), second.metric("is_leader")) == (1, 0)
        assert (
            second.registry.get_sample_value("mcp_admission_reconciler_reconciles_total", {"result": "ok"})
            is None
        )

        first.shutdown()  # as on SIGTERM: the lease is released, not left to expire
        assert first.result == [True] and first.metric("is_leader") == 0
        eventually(
            lambda: lease(kube, namespace).get("holderIdentity") == "replica-b", "replica-b takes over"
        )
        assert lease(kube, namespace)["leaseTransitions"] == 1
        # replica-b now reconciles: a deleted Service comes back.
        kube.request("DELETE", f"/api/v1/namespaces/{namespace}/services/mcp-web")
        eventually(lambda: converged(kube, namespace, "web"), "replica-b repairs")
        second.shutdown()
        assert second.result == [True]
        assert lease(kube, namespace)["holderIdentity"] == ""
    finally:
        for candidate in (first, second):
            if candidate is not None:
                candidate.shutdown()


def cli(*args: str) -> list[str]:
    """The real command line, in a subprocess."""
    return [sys.executable, "-m", "mcp_admission", "reconcile", *args]


def test_cli_once_converges_then_writes_nothing(
    kube: Kube, namespace: str, control_plane: ControlPlane
) -> None:
    create_statefulset(kube, statefulset("web", namespace))
    args = cli("--once", "--kubeconfig", str(control_plane.kubeconfig), "--namespace", namespace)
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lives = converged(kube, namespace, "web")
    assert lives
    versions = {s["metadata"]["name"]: s["metadata"]["resourceVersion"] for s in lives}
    again = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "applied Service" not in again.stderr
    assert {n: service(kube, namespace, n)["metadata"]["resourceVersion"] for n in versions} == versions  # type: ignore[index]


def test_cli_once_on_an_empty_namespace_exits_promptly(namespace: str, control_plane: ControlPlane) -> None:
    args = cli("--once", "--kubeconfig", str(control_plane.kubeconfig), "--namespace", namespace)
    began = time.monotonic()
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    took = time.monotonic() - began
    assert done.returncode == 0, done.stderr
    assert took < PROMPT, f"reconcile --once took {took:.1f}s"
    assert "Logging error" not in done.stderr  # no thread of ours logs after the process ended


def test_cli_bad_configuration_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "config.yaml"
    bad.write_text("reconciler:\n  workers: 0\n")
    done = subprocess.run(
        cli("--once", "--config", str(bad)), cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "reconciler.workers" in done.stderr and str(bad) in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_sigterm_releases_the_lease(
    kube: Kube, namespace: str, control_plane: ControlPlane, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    port = free_port()  # for the metrics endpoint
    section = {
        "leaseNamespace": namespace,
        "metricsPort": port,
        "metricsAddress": "127.0.0.1",
        "leaseDurationSeconds": 30,
        "renewDeadlineSeconds": 20,
        "retryPeriodSeconds": 1,
    }
    config.write_text(yaml.safe_dump({"reconciler": section}))
    args = cli(
        "--kubeconfig", str(control_plane.kubeconfig), "--config", str(config), "--namespace", namespace
    )
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        eventually(lambda: lease(kube, namespace).get("holderIdentity"), "the CLI takes the lease")
        create_statefulset(kube, statefulset("web", namespace))
        eventually(lambda: converged(kube, namespace, "web"), "the CLI's Services")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            metrics = response.read().decode()
        assert "mcp_admission_reconciler_is_leader 1.0" in metrics
        assert 'mcp_admission_reconciler_writes_total{kind="Service"} 2.0' in metrics
        process.send_signal(signal.SIGTERM)
        began = time.monotonic()
        assert process.wait(30) == 0
        took = time.monotonic() - began
        assert took < PROMPT, f"SIGTERM to exit took {took:.1f}s"
        # Released, so a standby takes over at once instead of after leaseDurationSeconds (30 s here).
        assert lease(kube, namespace)["holderIdentity"] == ""
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def restart_apiserver(plane: ControlPlane) -> subprocess.Popen[bytes]:
    """Stop this plane's kube-apiserver and start it again with its recorded command line.

    `control-plane down` would delete the etcd data; here etcd and the controller-manager keep running
    and only the apiserver goes away, as in an apiserver rollout.
    """
    pid_file = plane.dir / "kube-apiserver.pid"
    pid = int(pid_file.read_text().strip())
    command = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    os.kill(pid, signal.SIGTERM)
    try:  # v1.20 may wait on open watches for a minute: SIGKILL after 5 s (`down` does so after 10 s)
        eventually(lambda: not Path(f"/proc/{pid}").exists(), "the apiserver to stop", timeout=5)
    except AssertionError:
        os.kill(pid, signal.SIGKILL)
        eventually(lambda: not Path(f"/proc/{pid}").exists(), "the apiserver to die", timeout=10)
    log = (plane.dir / "kube-apiserver.log").open("ab")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(plane.dir), "LANG": "C.UTF-8"}  # as `up` does
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
    )
    pid_file.write_text(f"{process.pid}\n")  # so `down` stops the new one
    # Our child now: reaped whenever it exits (at the session's `down`), never left a zombie.
    threading.Thread(target=process.wait, daemon=True).start()
    return process


@pytest.fixture(scope="module")
def own_plane(scratch_plane: ControlPlane) -> ControlPlane:
    """A plane no other test shares: these tests restart its apiserver and compact its etcd."""
    return scratch_plane


def test_survives_an_apiserver_restart(own_plane: ControlPlane, start_reconciler: Start) -> None:
    kube = Kube(api_client(str(own_plane.kubeconfig)))
    namespace = create_namespace(kube, "restart")
    create_statefulset(kube, statefulset("before", namespace))
    running: Running = start_reconciler(namespace, client=kube)
    eventually(lambda: converged(kube, namespace, "before"), "Services before the restart")

    process = restart_apiserver(own_plane)
    try:

        def ready() -> bool:
            try:
                kube.request("GET", f"/api/v1/namespaces/{namespace}", timeout=2)
            except KubeError:
                return False
            return True

        eventually(ready, "the apiserver to come back", timeout=60)
        # The reconciler noticed (its watches broke) and resumes: new work and repairs are done.
        assert running.metric("errors_total") > 0
        create_statefulset(kube, statefulset("after", namespace))
        kube.request("DELETE", f"/api/v1/namespaces/{namespace}/services/mcp-before")
        eventually(lambda: converged(kube, namespace, "after"), "Services after the restart", timeout=60)
        eventually(lambda: converged(kube, namespace, "before"), "repair after the restart", timeout=60)
    finally:
        running.reconciler.stop()
        # The restarted apiserver keeps serving the next test; `down` (fixture) stops it by its pid file.
        assert process.poll() is None


def test_a_compacted_resource_version_means_relist(own_plane: ControlPlane) -> None:
    kube = Kube(api_client(str(own_plane.kubeconfig)))
    namespace = create_namespace(kube, "gone")
    # A 1.20 apiserver serves Event watches straight from etcd (no watch cache), so compacting etcd
    # makes an older resourceVersion gone, as a long outage would.
    path = f"/api/v1/namespaces/{namespace}/events"
    old = kube.request("GET", path)["metadata"]["resourceVersion"]
    sts = create_statefulset(kube, statefulset("web", namespace))
    events.record(kube, sts, "StatefulSet", "Normal", "Test", "after the old version")
    revision = kube.request("GET", path)["metadata"]["resourceVersion"]
    etcd = own_plane.env["KUBE_ETCD_URL"] + "/v3/kv/compaction"
    body = json.dumps({"revision": revision, "physical": True}).encode()
    urllib.request.urlopen(urllib.request.Request(etcd, data=body, method="POST"), timeout=10).read()

    seen: list[str] = []
    informer = Informer(kube, path, lambda e: seen.append(e["reason"]), lambda e: None, lambda message: None)
    with pytest.raises(Gone):
        informer._watch(old)
    thread = threading.Thread(target=informer.run, daemon=True)
    thread.start()
    try:
        eventually(lambda: "Test" in seen, "the relisted Event")
        assert informer.relists == 1
    finally:
        informer.stop()
        thread.join(10)
