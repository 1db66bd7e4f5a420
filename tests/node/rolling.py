"""A webhook rollout under a steady stream of MCP applies, however it is started (`kubectl rollout
restart`, `helm upgrade` of the image, ...): until the new pods are available and the old ones gone, then
the tally of what the stream got back. Shared by tests/node (the kustomize install and the chart) and
bench/node/rollout.py."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from tests.e2e.harness import Kubectl
from tests.support import eventually

from .stream import Stream, Tally

ROLLOUT_TIMEOUT = 180  # the first webhook pods wait for the kubelet to fill the Secret volume (≤ 1 min)
TAIL = 2.0  # seconds the stream goes on after the last old pod went: requests still in flight


def pod_names(kubectl: Kubectl, namespace: str, selector: str) -> set[str]:
    out = kubectl("-n", namespace, "get", "pods", "-l", selector, "-o", "json").stdout
    return {p["metadata"]["name"] for p in json.loads(out)["items"]}


def rollout_status(kubectl: Kubectl, namespace: str, deployment: str) -> subprocess.CompletedProcess[str]:
    """`kubectl rollout status` (not through Kubectl: it may take longer than its 60 s)."""
    return subprocess.run(
        [kubectl.binary, "--kubeconfig", str(kubectl.kubeconfig), "-n", namespace, "rollout", "status",
         f"deployment/{deployment}", f"--timeout={ROLLOUT_TIMEOUT}s"],
        capture_output=True, text=True, timeout=ROLLOUT_TIMEOUT + 30,
    )  # fmt: skip


def wait_rolled(kubectl: Kubectl, namespace: str, deployment: str, selector: str, old: set[str]) -> None:
    """Until the Deployment's rollout is complete and none of the `old` pods is left (they drain after
    the new ones are available)."""
    status = rollout_status(kubectl, namespace, deployment)
    assert status.returncode == 0, f"{deployment} did not roll out:\n{status.stderr}"
    what = f"the old pods of {deployment} to be gone"
    eventually(lambda: not old & pod_names(kubectl, namespace, selector), what, timeout=60)


@dataclass
class Rolled:
    tally: Tally
    old: set[str]  # the pods before the rollout
    seconds: float  # from the start of the rollout until the last old pod was gone


def rolled_under_stream(
    env: dict[str, str],
    stream_namespace: str,
    kubectl: Kubectl,
    namespace: str,
    deployment: str,
    selector: str,
    start: Callable[[], object],
    rate: float = 20.0,
) -> Rolled:
    """The stream runs (dry-run creates into `stream_namespace` at `rate` per second) and is patched;
    `start()` starts the rollout of `deployment`; the stream stops TAIL seconds after the old pods are
    gone."""
    with Stream(env, stream_namespace, rate=rate) as stream:
        eventually(lambda: stream.tally.patched >= 5, "the stream to be patched", timeout=30)
        old = pod_names(kubectl, namespace, selector)
        begun = time.monotonic()
        start()
        wait_rolled(kubectl, namespace, deployment, selector, old)
        seconds = time.monotonic() - begun
        time.sleep(TAIL)  # not a wait for a condition: the stream must keep running past the rollout
        tally = stream.stop()
    return Rolled(tally, old, seconds)
