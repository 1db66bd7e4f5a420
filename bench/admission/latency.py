"""What the webhook adds to an apply, decomposed: server dry-run creates of an MCP Service, on/floor/off.

    .venv/bin/python bench/admission/latency.py [--samples 400] [--kubeconfig FILE]

One run, one apiserver, two webhook servers over TLS on 127.0.0.1 with the same certificate:
  on     the real `mcp-admission serve` (default settings, decision lines at info);
  floor  the control server of bench/webhook/serve.py: the same uvicorn/TLS/uvloop stack answering the
         webhook's own bytes (decided once) without deciding: what any webhook on this stack costs.
Each gets the legacy webhook configurations (`mcp-admission webhooks --legacy`: the test plane is v1.20),
renamed per server (configurations `mcp-admission-bench-SIDE`, webhooks `SIDE.<name>`) and routed by one
more namespaceSelector matchExpression: `bench.mcp-admission.io/side In [SIDE]`. Three namespaces carry
that label, "on", "floor" and "off" (off also has the opt-out label `mcp-admission.io/ignore=true`), so
the apiserver calls the real webhook for one, the control for another, nobody for the third.
Each sample is one `POST ...?dryRun=All` of an opted-in Service (session-affinity patches it), the three
sides in turn, the order rotating each round, so all see the same machine at the same moment; each answer
is checked (ClientIP from on and floor, None from off). Printed: median and p90 of each side; the added
latency (on - off, issue 13's budget +1.0 ms), the floor (floor - off) and our own share (on - floor),
as differences of medians; the apiserver's own time per call of each webhook
(apiserver_admission_webhook_admission_duration_seconds sum/count from its /metrics, the delta over the
measured samples); the load average.
Without --kubeconfig it starts (and stops) a control plane from tools/control-plane.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from mcp_admission.kube import Kube, api_client

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "mcp_admission"]
CONTROL_PLANE = ROOT / "tools" / "control-plane"
SERVE = ROOT / "bench" / "webhook" / "serve.py"
sys.path.insert(0, str(SERVE.parent))  # the benchmark servers' shared start-up (tls_server.py)
from tls_server import free_port, wait_for_handshake  # noqa: E402

OPT_OUT = "mcp-admission.io/ignore"
SIDE_LABEL = "bench.mcp-admission.io/side"
SIDES = ("on", "floor", "off")
HOOKED = ("on", "floor")  # the sides a webhook server answers
BUDGET_MS = 1.0
WEBHOOK_SECONDS = "apiserver_admission_webhook_admission_duration_seconds"
PATHS = {"MutatingWebhookConfiguration": "/mutate", "ValidatingWebhookConfiguration": "/validate"}
CONFIG_PATHS = {
    "MutatingWebhookConfiguration": "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
    "ValidatingWebhookConfiguration": "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
}


@contextmanager
def _control_plane(kubeconfig: str | None) -> Iterator[str]:
    if kubeconfig:
        yield kubeconfig
        return
    with tempfile.TemporaryDirectory(prefix="mcp-bench-kube-") as directory:
        out = subprocess.run(
            [str(CONTROL_PLANE), "up", directory], check=True, capture_output=True, text=True
        )
        try:
            yield out.stdout.strip().splitlines()[-1].split("=", 1)[1]
        finally:
            subprocess.run([str(CONTROL_PLANE), "down", directory], check=False, capture_output=True)


@contextmanager
def _server(side: str, tls: Path, directory: Path) -> Iterator[int]:
    """The webhook server of a side on 127.0.0.1 with the bench certificate; its port."""
    port = free_port()
    cert, key = str(tls / "tls.crt"), str(tls / "tls.key")
    if side == "on":
        argv = [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--metrics-port", "0"]
        argv += ["--cert-file", cert, "--key-file", key]
    else:
        argv = [sys.executable, str(SERVE), "control", str(port), cert, key]
    log_path = directory / f"{side}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=log, cwd=ROOT)
    try:
        wait_for_handshake(port, tls / "ca.crt", process, side, log_path)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def _register(kube: Kube, side: str, port: int, ca: bytes, made: list[str]) -> None:
    """The legacy configurations, as rendered, renamed for `side` and pointed at its server; their API
    paths go to `made`."""
    rendered = subprocess.run(
        [*CLI, "webhooks", "--legacy"], check=True, capture_output=True, text=True
    ).stdout
    for configuration in yaml.safe_load_all(rendered):
        if not configuration:
            continue
        kind = configuration["kind"]
        configuration["metadata"]["name"] = f"mcp-admission-bench-{side}"
        for hook in configuration["webhooks"]:
            hook["name"] = f"{side}.{hook['name']}"
            hook["clientConfig"] = {
                "url": f"https://127.0.0.1:{port}{PATHS[kind]}",
                "caBundle": base64.b64encode(ca).decode(),
            }
            hook["namespaceSelector"]["matchExpressions"].append(
                {"key": SIDE_LABEL, "operator": "In", "values": [side]}
            )
        kube.request("POST", CONFIG_PATHS[kind], body=configuration)
        made.append(f"{CONFIG_PATHS[kind]}/{configuration['metadata']['name']}")


def _webhook_seconds(kube: Kube) -> dict[str, tuple[float, float]]:
    """The apiserver's time spent calling each webhook so far: {webhook name: (seconds, calls)}."""
    request = kube.api.param_serialize(
        "GET", "/metrics", header_params={"Accept": "text/plain"}, auth_settings=["BearerToken"]
    )
    response: Any = kube.api.call_api(*request)  # Kube.request decodes JSON; /metrics is text
    text = response.read().decode()
    totals: dict[str, tuple[float, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != WEBHOOK_SECONDS:
            continue
        for sample in family.samples:
            seconds, calls = totals.get(sample.labels["name"], (0.0, 0.0))
            if sample.name.endswith("_sum"):
                seconds += sample.value
            elif sample.name.endswith("_count"):
                calls += sample.value
            totals[sample.labels["name"]] = (seconds, calls)
    return totals


def _per_call(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]], side: str
) -> str:
    """Each of `side`'s webhooks the apiserver called between the two readings: its mean time per call."""
    calls_seen = []
    for name, (seconds, calls) in sorted(after.items()):
        earlier_seconds, earlier_calls = before.get(name, (0.0, 0.0))
        if name.startswith(f"{side}.") and calls > earlier_calls:
            per_call = (seconds - earlier_seconds) / (calls - earlier_calls) * 1000
            calls_seen.append(f"{name} {per_call:.2f} ms (calls={calls - earlier_calls:.0f})")
    return ", ".join(calls_seen) or "no calls"


def _service(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"mcp-admission.io/workload": "true"}},
        "spec": {"selector": {"app": name}, "ports": [{"port": 8080}]},
    }


def _dry_run_ms(kube: Kube, side: str, namespace: str) -> float:
    start = time.perf_counter()
    answer = kube.request(
        "POST", f"/api/v1/namespaces/{namespace}/services", query=[("dryRun", "All")], body=_service("bench")
    )
    elapsed = (time.perf_counter() - start) * 1000
    expected = "ClientIP" if side in HOOKED else "None"
    if answer["spec"].get("sessionAffinity") != expected:  # the intended server was (not) called
        raise SystemExit(f"{side}: sessionAffinity {answer['spec'].get('sessionAffinity')}, not {expected}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=400, help="dry-run creates per side (default 400)")
    parser.add_argument("--kubeconfig", help="an existing cluster (its apiserver must reach 127.0.0.1)")
    options = parser.parse_args()
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mcp-bench-")))
        kube = Kube(api_client(stack.enter_context(_control_plane(options.kubeconfig))))
        tls = directory / "tls"
        subprocess.run(
            [*CLI, "certs", "generate", "--extra-san", "127.0.0.1", "--out", str(tls)],
            check=True,
            capture_output=True,
        )
        ports = {side: stack.enter_context(_server(side, tls, directory)) for side in HOOKED}
        suffix = uuid.uuid4().hex[:6]
        namespaces = {side: f"bench-{suffix}-{side}" for side in SIDES}
        made: list[str] = []  # API paths of what this run created, deleted in reverse at the end
        try:
            for side, name in namespaces.items():
                labels = {SIDE_LABEL: side} | ({OPT_OUT: "true"} if side == "off" else {})
                kube.request(
                    "POST", "/api/v1/namespaces", body={"metadata": {"name": name, "labels": labels}}
                )
                made.append(f"/api/v1/namespaces/{name}")
            for side in HOOKED:
                _register(kube, side, ports[side], (tls / "ca.crt").read_bytes(), made)
            for _ in range(20):  # warm up every path (connections, caches, the control's template)
                for side in SIDES:
                    _dry_run_ms(kube, side, namespaces[side])
            load_before = os.getloadavg()[0]
            before = _webhook_seconds(kube)
            times: dict[str, list[float]] = {side: [] for side in SIDES}
            for round_ in range(options.samples):
                for i in range(len(SIDES)):  # rotated, so no side always follows the same one
                    side = SIDES[(round_ + i) % len(SIDES)]
                    times[side].append(_dry_run_ms(kube, side, namespaces[side]))
            after = _webhook_seconds(kube)
            load_after = os.getloadavg()[0]
        finally:
            for path in reversed(made):
                kube.request("DELETE", path)
    medians = {side: statistics.median(samples) for side, samples in times.items()}
    for side, samples in times.items():
        p90 = sorted(samples)[int(len(samples) * 0.9)]
        print(f"{side:<5}  median {medians[side]:6.2f} ms   p90 {p90:6.2f} ms   n={len(samples)}")
    added = medians["on"] - medians["off"]
    verdict = "met" if added <= BUDGET_MS else "over"
    print(
        f"added by the webhook (on - off): {added:+.2f} ms   issue 13 budget +{BUDGET_MS:.2f} ms: {verdict}"
    )
    print(
        f"the floor, a control on the same stack (floor - off): {medians['floor'] - medians['off']:+.2f} ms"
    )
    print(f"our own share (on - floor): {medians['on'] - medians['floor']:+.2f} ms")
    for side in HOOKED:
        print(f"apiserver's time per webhook call, {side:<5}: {_per_call(before, after, side)}")
    print(
        f"load average (1 min) before/after the samples: {load_before:.1f} / {load_after:.1f}"
        " (2 cores: above ~1.5 the numbers are noise)"
    )


if __name__ == "__main__":
    main()
