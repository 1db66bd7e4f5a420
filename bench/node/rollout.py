"""How many MCP applies a webhook rollout lets through unpatched (issue 18 §3), on real pods.

    .venv/bin/python bench/node/rollout.py                  # 2 rolling restarts at 20 creates/s
    .venv/bin/python bench/node/rollout.py --restarts 3 --rate 50

Builds the image (tools/image), starts a control plane with a node (tools/control-plane up --node: root,
one per machine), installs the legacy overlay as tests/node does, then runs a steady stream of
server-dry-run creates of opted-in Services while `kubectl rollout restart` rolls the webhook, and
prints what came back patched, unpatched (admitted without our patch: failurePolicy Ignore) or
refused. Everything is torn down on exit.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.conftest import read_env  # noqa: E402
from tests.e2e.harness import Kubectl, dump, render  # noqa: E402
from tests.node.conftest import DEPLOYMENTS, NS, WEBHOOK_PODS, installable  # noqa: E402
from tests.node.rolling import rolled_under_stream, rollout_status  # noqa: E402

PLANE = ROOT / "tools" / "control-plane"
IMAGE_TOOL = ROOT / "tools" / "image"
IMAGE = "localhost/mcp-admission:bench"
WEBHOOK = "mcp-admission-webhook"
TOOLHIVE_CRDS = ROOT.parent / "shared" / "fixtures" / "toolhive" / "crds-k8s-1.20"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=2)
    parser.add_argument("--rate", type=float, default=20.0, help="dry-run creates per second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mcp-admission-bench-node-") as tmp:
        work = Path(tmp)
        subprocess.run([str(IMAGE_TOOL), "build", "--tag", IMAGE], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([str(IMAGE_TOOL), "save", IMAGE, str(work / "image.tar")], check=True)
        plane = work / "plane"
        t0 = time.monotonic()
        subprocess.run([str(PLANE), "up", "--node", "--load", str(work / "image.tar"), str(plane)],
                       check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        try:
            env = read_env(plane / "env")
            kubectl = Kubectl(env["KUBECTL"], plane / "kubeconfig")
            crds = TOOLHIVE_CRDS if TOOLHIVE_CRDS.is_dir() else None
            if crds:
                kubectl("create", "-f", str(crds))
            kubectl("apply", "-f", "-", stdin=dump(installable(render("overlays/legacy"), IMAGE)))
            for name in DEPLOYMENTS:
                assert rollout_status(kubectl, NS, name).returncode == 0, f"{name} did not roll out"
            print(f"node up and the legacy overlay rolled out in {time.monotonic() - t0:.0f} s")
            kubectl("create", "namespace", "bench")
            restart = ("-n", NS, "rollout", "restart", f"deployment/{WEBHOOK}")
            for run in range(1, args.restarts + 1):
                rolled = rolled_under_stream(env, "bench", kubectl, NS, WEBHOOK, WEBHOOK_PODS,
                                             start=lambda: kubectl(*restart), rate=args.rate)  # fmt: skip
                print(f"restart {run}: rollout {rolled.seconds:.0f} s; {rolled.tally.line()}")
        finally:
            subprocess.run(
                [str(PLANE), "down", "--purge", str(plane)], check=False, stderr=subprocess.DEVNULL
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
