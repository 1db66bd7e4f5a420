"""The reconciler at scale against a real kube-apiserver (issue 5).

500 MCP StatefulSets (ToolHive's shape, sse) are created at once while a reconciler watches; we time
until every one has both Services present and as policy wants (budget: 30 s), then run a full resync
and count its writes (budget: 0; its own metric, and no Service's resourceVersion moves).

    .venv/bin/python bench/reconciler/bench_reconciler.py [--count 500] [--kubeconfig PATH]

Without --kubeconfig it starts its own control plane (tools/control-plane) and stops it after.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mcp_admission.kube import Kube, api_client  # noqa: E402
from mcp_admission.policies import PolicyConfig  # noqa: E402
from mcp_admission.reconciler.controller import Reconciler  # noqa: E402
from mcp_admission.reconciler.drift import contained  # noqa: E402
from mcp_admission.reconciler.metrics import ReconcilerMetrics  # noqa: E402
from mcp_admission.reconciler.services import MANAGED_BY, MANAGED_BY_LABEL, desired_services  # noqa: E402
from mcp_admission.reconciler.settings import ReconcilerSettings  # noqa: E402
from tests.support.kube import create_namespace, create_statefulset, statefulset  # noqa: E402

CONTROL_PLANE = ROOT / "tools" / "control-plane"
BUDGET_SECONDS = 30


def wanted_services(kube: Kube, namespace: str) -> list[dict[str, Any]]:
    """What policy wants for every StatefulSet in `namespace` (one list: uids are needed)."""
    items = kube.request("GET", f"/apis/apps/v1/namespaces/{namespace}/statefulsets")["items"]
    return [d for sts in items for d in desired_services(sts, PolicyConfig())]


def services_right(kube: Kube, namespace: str, wanted: list[dict[str, Any]]) -> int:
    """How many of the wanted Services are live and as policy wants."""
    query = [("labelSelector", f"{MANAGED_BY_LABEL}={MANAGED_BY}")]
    items = kube.request("GET", f"/api/v1/namespaces/{namespace}/services", query)["items"]
    live = {s["metadata"]["name"]: s for s in items}
    return sum(
        1
        for d in wanted
        if (found := live.get(d["metadata"]["name"])) is not None
        and contained({"metadata": d["metadata"], "spec": d["spec"]}, found)
    )


def services_present(kube: Kube, namespace: str) -> int:
    """How many Services exist (only ours live in the bench namespace): a one-item page and its
    remainingItemCount (given only without selectors), so that polling does not take the CPU (and the
    GIL) from the reconciler it measures."""
    page = kube.request("GET", f"/api/v1/namespaces/{namespace}/services", [("limit", "1")])
    return len(page["items"]) + int(page["metadata"].get("remainingItemCount") or 0)


def versions(kube: Kube, namespace: str) -> dict[str, str]:
    items = kube.request("GET", f"/api/v1/namespaces/{namespace}/services")["items"]
    return {s["metadata"]["name"]: s["metadata"]["resourceVersion"] for s in items}


def bench(kube: Kube, observer: Kube, count: int, settings: ReconcilerSettings, trace: bool) -> bool:
    """`kube` is the reconciler's client; `observer` (its own connections) creates and checks."""
    namespace = create_namespace(kube, "bench-reconciler")
    registry = CollectorRegistry()
    reconciler = Reconciler(kube, PolicyConfig(), settings, ReconcilerMetrics(registry), (namespace,))

    def writes() -> float:
        return registry.get_sample_value("mcp_admission_reconciler_writes_total", {"kind": "Service"}) or 0.0

    reconciler.start()
    try:
        assert reconciler.wait_synced(30), "the reconciler could not list"
        start = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            manifests = [statefulset(f"mcp{i:04d}", namespace, replicas=1) for i in range(count)]
            list(pool.map(lambda m: create_statefulset(observer, m), manifests))
        created = time.monotonic() - start
        wanted = wanted_services(observer, namespace)
        right = 0
        while time.monotonic() - start < 3 * BUDGET_SECONDS:
            present = services_present(observer, namespace)
            # Only a full check counts: every wanted Service present with every field as policy wants.
            if present >= len(wanted) and (right := services_right(observer, namespace, wanted)) == len(
                wanted
            ):
                break
            if trace:
                print(f"  {time.monotonic() - start:5.1f} s: {writes():4.0f} applies, {present:4d} Services")
            time.sleep(0.25)
        converged = time.monotonic() - start
        ok = right == len(wanted) == 2 * count and converged <= BUDGET_SECONDS
        print(
            f"{count} StatefulSets created in {created:.1f} s; {right}/{len(wanted)} Services present and "
            f"right after {converged:.1f} s (budget {BUDGET_SECONDS} s): {'PASS' if ok else 'FAIL'}"
        )

        reconciler.queue.wait_idle(60)
        before, writes_before = versions(kube, namespace), writes()
        reconciles = (
            registry.get_sample_value("mcp_admission_reconciler_reconciles_total", {"result": "ok"}) or 0
        )
        start = time.monotonic()
        reconciler.resync()
        reconciler.queue.wait_idle(120)
        took = time.monotonic() - start
        done = (
            registry.get_sample_value("mcp_admission_reconciler_reconciles_total", {"result": "ok"}) or 0
        ) - reconciles
        written = writes() - writes_before
        moved = sum(1 for name, rv in versions(kube, namespace).items() if before.get(name) != rv)
        quiet = written == 0 and moved == 0 and done >= count
        print(
            f"full resync: {done:.0f} reconciles in {took:.1f} s, {written:.0f} writes, {moved} Service "
            f"resourceVersions changed (budget 0): {'PASS' if quiet else 'FAIL'}"
        )
        return ok and quiet
    finally:
        reconciler.stop()
        kube.request("DELETE", f"/api/v1/namespaces/{namespace}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--kubeconfig", help="use this cluster instead of starting a control plane")
    parser.add_argument("--workers", type=int, default=ReconcilerSettings().workers)
    parser.add_argument("--trace", action="store_true", help="print progress every 0.25 s")
    args = parser.parse_args()
    settings = ReconcilerSettings(workers=args.workers)

    def run(kubeconfig: str) -> int:
        reconciler_client = Kube(api_client(kubeconfig, settings.workers + 4))
        return (
            0
            if bench(reconciler_client, Kube(api_client(kubeconfig)), args.count, settings, args.trace)
            else 1
        )

    if args.kubeconfig:
        return run(args.kubeconfig)
    with tempfile.TemporaryDirectory(prefix="bench-reconciler-") as directory:
        up = subprocess.run(
            [str(CONTROL_PLANE), "up", directory], check=True, stdout=subprocess.PIPE, text=True
        )
        try:
            return run(up.stdout.strip().splitlines()[-1].split("=", 1)[1])
        finally:
            subprocess.run([str(CONTROL_PLANE), "down", directory], check=False)


if __name__ == "__main__":
    sys.exit(main())
