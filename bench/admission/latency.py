"""What the webhook adds to an apply: server dry-run creates of an MCP Service, webhooks on vs off.

    .venv/bin/python bench/admission/latency.py [--samples 400] [--kubeconfig FILE]

One run, one apiserver, one webhook process (`mcp-admission serve` over TLS on 127.0.0.1), the legacy
webhook configurations (`mcp-admission webhooks --legacy`: the test plane is v1.20) pointed at it. Two
namespaces, alike but for the opt-out label `mcp-admission.io/ignore=true`, which keeps the apiserver
from calling the webhook: "on" and "off" requests alternate, so both see the same machine at the same
moment. Each sample is one `POST ...?dryRun=All` of an opted-in Service (session-affinity patches it);
printed: median and p90 of both, and the median difference. Issue 13's budget: +1.0 ms.
Without --kubeconfig it starts (and stops) a control plane from tools/control-plane.
"""

from __future__ import annotations

import argparse
import base64
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import yaml

from mcp_admission.kube import Kube, api_client

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "mcp_admission"]
CONTROL_PLANE = ROOT / "tools" / "control-plane"
OPT_OUT = "mcp-admission.io/ignore"
PATHS = {"MutatingWebhookConfiguration": "/mutate", "ValidatingWebhookConfiguration": "/validate"}
CONFIG_PATHS = {
    "MutatingWebhookConfiguration": "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
    "ValidatingWebhookConfiguration": "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


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
def _webhook(directory: Path) -> Iterator[tuple[int, bytes]]:
    """`mcp-admission serve` on 127.0.0.1 with a throwaway certificate; (port, CA PEM)."""
    tls = directory / "tls"
    subprocess.run(
        [*CLI, "certs", "generate", "--extra-san", "127.0.0.1", "--out", str(tls)],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    log = (directory / "serve.log").open("w")
    argv = [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--metrics-port", "0"]
    argv += [
        "--cert-file",
        str(tls / "tls.crt"),
        "--key-file",
        str(tls / "tls.key"),
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(argv, stdout=log, stderr=log)
    try:
        trust = ssl.create_default_context(cafile=str(tls / "ca.crt"))
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/readyz", context=trust, timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit(f"the webhook did not start: see {directory / 'serve.log'}") from None
                time.sleep(0.1)
        yield port, (tls / "ca.crt").read_bytes()
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _register(kube: Kube, port: int, ca: bytes) -> list[str]:
    """The legacy configurations, as rendered, pointed at the local webhook; their API paths."""
    rendered = subprocess.run(
        [*CLI, "webhooks", "--legacy"], check=True, capture_output=True, text=True
    ).stdout
    created = []
    for configuration in yaml.safe_load_all(rendered):
        if not configuration:
            continue
        kind = configuration["kind"]
        for hook in configuration["webhooks"]:
            hook["clientConfig"] = {
                "url": f"https://127.0.0.1:{port}{PATHS[kind]}",
                "caBundle": base64.b64encode(ca).decode(),
            }
        kube.request("POST", CONFIG_PATHS[kind], body=configuration)
        created.append(f"{CONFIG_PATHS[kind]}/{configuration['metadata']['name']}")
    return created


def _service(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"mcp-admission.io/workload": "true"}},
        "spec": {"selector": {"app": name}, "ports": [{"port": 8080}]},
    }


def _dry_run_ms(kube: Kube, namespace: str) -> float:
    start = time.perf_counter()
    answer = kube.request(
        "POST", f"/api/v1/namespaces/{namespace}/services", query=[("dryRun", "All")], body=_service("bench")
    )
    elapsed = (time.perf_counter() - start) * 1000
    expected = "ClientIP" if not namespace.endswith("-off") else "None"
    if answer["spec"].get("sessionAffinity") != expected:  # the webhook was (not) called as intended
        raise SystemExit(
            f"{namespace}: sessionAffinity {answer['spec'].get('sessionAffinity')}, not {expected}"
        )
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
        port, ca = stack.enter_context(_webhook(directory))
        suffix = uuid.uuid4().hex[:6]
        namespaces = {"on": f"bench-{suffix}-on", "off": f"bench-{suffix}-off"}
        for side, name in namespaces.items():
            labels = {OPT_OUT: "true"} if side == "off" else {}
            kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": name, "labels": labels}})
        paths = _register(kube, port, ca)
        try:
            for _ in range(20):  # warm up both paths (connections, caches)
                _dry_run_ms(kube, namespaces["on"])
                _dry_run_ms(kube, namespaces["off"])
            times: dict[str, list[float]] = {"on": [], "off": []}
            for _ in range(options.samples):
                for side in ("on", "off"):
                    times[side].append(_dry_run_ms(kube, namespaces[side]))
        finally:
            for path in paths:
                kube.request("DELETE", path)
            for name in namespaces.values():
                kube.request("DELETE", f"/api/v1/namespaces/{name}")
    for side, samples in times.items():
        ordered = sorted(samples)
        p90 = ordered[int(len(ordered) * 0.9)]
        median = statistics.median(samples)
        print(f"webhooks {side:<3}  median {median:6.2f} ms   p90 {p90:6.2f} ms   n={len(samples)}")
    added = statistics.median(times["on"]) - statistics.median(times["off"])
    print(f"added by the webhook (median on - median off): {added:+.2f} ms   (issue 13 budget: +1.00 ms)")
    print(
        f"load average during the run: {os.getloadavg()[0]:.1f} (2 cores: above ~1.5 the numbers are noise)"
    )


if __name__ == "__main__":
    main()
