"""Load benchmark of the webhook against a bare ASGI endpoint on the same server stack, in one run.

    .venv/bin/python bench/webhook/run.py [--repeat 3] [--seconds 5] [--connections 16]

Both servers: uvicorn, httptools, uvloop, one worker, the same TLS certificate, on 127.0.0.1; the load
generator is wrk (Debian package `wrk`). Printed, per payload, with the spread over the repeats:
  throughput ratio webhook / baseline         (target >= 0.85)
  p99 at half the baseline's max rate, ratio  (target <= 1.25)
  CPU time per request, baseline / webhook    (the throughput ratio a CPU-bound server would see)
  control / baseline throughput               (the control answers the webhook's bytes without deciding:
                                               near 1 means the gap is the decision work, not the answer)
and the webhook's resident memory after 10k and after 100k requests (target: within 10 MB).

--calibrate 10 20 40 also runs, in the same rounds, the baseline plus that many microseconds of pure CPU
per request (serve.py baseline+N) and prints their throughput ratios, then what they imply: how much
work per request the 0.85 target leaves on this machine, and how much the webhook's work is worth.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from payloads import PAYLOADS
from tls_server import free_port, wait_for_handshake

from mcp_admission.certs.generate import generate_bundle, write_bundle

HERE = Path(__file__).resolve().parent
Body = tuple[Path, str]  # the AdmissionReview's file, the endpoint it is posted to
ROOT = HERE.parents[1]


@contextmanager
def server(which: str, certs: Path, log: Path) -> Iterator[tuple[int, int]]:
    """(port, pid) of a running benchmark server; stopped with SIGTERM on exit."""
    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "serve.py"),
                which,
                str(port),
                str(certs / "tls.crt"),
                str(certs / "tls.key"),
            ],
            stdout=out,
            stderr=out,
            cwd=ROOT,
        )
    try:
        wait_for_handshake(port, certs / "ca.crt", proc, which, log)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def wrk(port: int, body: Body, seconds: int, connections: int, delay_ms: int = 0) -> Any:
    file, path = body
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(HERE / "wrk.lua")]
    command += [f"https://127.0.0.1:{port}{path}", "--", str(file), path, str(delay_ms)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    if result["errors"] or result["non2xx"]:
        raise SystemExit(f"wrk saw errors on port {port}: {result}")
    result["rate"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def cpu_seconds(pid: int) -> float:
    """The process's user + system CPU time so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loaded(pid: int, port: int, body: Body, seconds: int, connections: int, delay_ms: int = 0) -> Any:
    """A wrk run (max rate unless paced), with the server's CPU time per request."""
    before = cpu_seconds(pid)
    result = wrk(port, body, seconds, connections, delay_ms)
    result["cpu_us"] = (cpu_seconds(pid) - before) * 1e6 / result["requests"]
    return result


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit(f"no VmRSS for pid {pid}")


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} (min {min(values):.2f}, max {max(values):.2f})"


def work_budget(
    base_cpu: list[float], hook_extra: list[float], calibration: dict[int, list[float]]
) -> tuple[float, float] | None:
    """(µs of work per request the 0.85 target allows, µs of work the webhook's extra CPU is worth).

    Under load, a request that does w µs more costs the server k·w µs more CPU, with k > 1: at a lower
    rate the stack itself costs more per request (bench/README.md). k is the median of the calibration
    runs' extra CPU per µs burnt. CPU per request, not throughput: it is far less sensitive to the
    neighbours. None when the noise hides the calibration.
    """
    k = statistics.median(extra / us for us, extras in calibration.items() for extra in extras)
    if k <= 0:
        return None
    return statistics.median(base_cpu) * (1 / 0.85 - 1) / k, statistics.median(hook_extra) / k


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--paced-connections", type=int, default=16)
    parser.add_argument("--calibrate", type=int, nargs="*", default=[], metavar="MICROSECONDS")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="bench-webhook-") as temp:
        work = Path(temp)
        write_bundle(generate_bundle("bench", "bench", extra_sans=("127.0.0.1",)), work)
        bodies: dict[str, Body] = {}
        for name, (build, path) in PAYLOADS.items():
            bodies[name] = (work / f"{name}.json", path)
            bodies[name][0].write_bytes(build())
        log = work / "servers.log"
        ratios: dict[str, list[float]] = {name: [] for name in PAYLOADS}
        p99s: dict[str, list[float]] = {name: [] for name in PAYLOADS}
        cpu: dict[str, list[float]] = {name: [] for name in PAYLOADS}
        controls: dict[str, list[float]] = {name: [] for name in PAYLOADS}
        # Per payload: the baseline's CPU per request; the webhook's and each calibration's CPU beyond it.
        base_cpu: dict[str, list[float]] = {name: [] for name in PAYLOADS}
        hook_extra: dict[str, list[float]] = {name: [] for name in PAYLOADS}
        burnt_extra: dict[str, dict[int, list[float]]] = {name: {} for name in PAYLOADS}
        burnt_ratios: dict[str, dict[int, list[float]]] = {name: {} for name in PAYLOADS}
        with ExitStack() as servers:
            base_port, base_pid = servers.enter_context(server("baseline", work, log))
            control_port, control_pid = servers.enter_context(server("control", work, log))
            hook_port, hook_pid = servers.enter_context(server("webhook", work, log))
            burners = {
                us: servers.enter_context(server(f"baseline+{us}", work, log)) for us in options.calibrate
            }
            for name, body in bodies.items():
                for port in (base_port, control_port, hook_port, *(port for port, _ in burners.values())):
                    wrk(port, body, 1, options.connections)  # warm-up
                for _ in range(options.repeat):
                    # Interleaved, so a noisy neighbour hits all sides alike.
                    base = loaded(base_pid, base_port, body, options.seconds, options.connections)
                    ctrl = loaded(control_pid, control_port, body, options.seconds, options.connections)
                    hook = loaded(hook_pid, hook_port, body, options.seconds, options.connections)
                    for us, (port, pid) in burners.items():
                        burnt = loaded(pid, port, body, options.seconds, options.connections)
                        burnt_ratios[name].setdefault(us, []).append(burnt["rate"] / base["rate"])
                        burnt_extra[name].setdefault(us, []).append(burnt["cpu_us"] - base["cpu_us"])
                    base_cpu[name].append(base["cpu_us"])
                    hook_extra[name].append(hook["cpu_us"] - base["cpu_us"])
                    ratios[name].append(hook["rate"] / base["rate"])
                    cpu[name].append(base["cpu_us"] / hook["cpu_us"])
                    controls[name].append(ctrl["rate"] / base["rate"])
                    # Half the baseline's max rate: each connection waits delay ms between requests.
                    delay = max(1, round(options.paced_connections * 1000 / (base["rate"] / 2)))
                    paced = (options.seconds, options.paced_connections, delay)
                    base_paced = loaded(base_pid, base_port, body, *paced)
                    hook_paced = loaded(hook_pid, hook_port, body, *paced)
                    p99s[name].append(hook_paced["p99_us"] / base_paced["p99_us"])
                    print(
                        f"{name}: max {base['rate']:.0f} vs {hook['rate']:.0f} req/s "
                        f"(CPU {base['cpu_us']:.0f} vs {hook['cpu_us']:.0f} us/request; "
                        f"control {ctrl['rate']:.0f} req/s, {ctrl['cpu_us']:.0f} us); "
                        f"paced ~{base_paced['rate']:.0f}/{hook_paced['rate']:.0f} req/s "
                        f"(CPU {base_paced['cpu_us']:.0f} vs {hook_paced['cpu_us']:.0f} us/request), "
                        f"p99 {base_paced['p99_us'] / 1000:.2f} vs {hook_paced['p99_us'] / 1000:.2f} ms",
                        flush=True,
                    )
        with server("webhook", work, log) as (port, pid):
            # A fresh process: the payloads in turn up to 10k requests, then on to 100k.
            done = 0
            rss: dict[int, int] = {}
            for target in (10_000, 100_000):
                while done < target:
                    for body in bodies.values():
                        done += wrk(port, body, 1, options.connections)["requests"]
                rss[target] = rss_kib(pid)
                print(f"RSS after {done} requests: {rss[target] / 1024:.1f} MB", flush=True)

    print()
    print(
        f"{'payload':<20} {'throughput ratio (>=0.85)':<40} {'p99 ratio at half max (<=1.25)':<40} "
        f"{'CPU ratio':<40} control / baseline"
    )
    for name in PAYLOADS:
        print(
            f"{name:<20} {spread(ratios[name]):<40} {spread(p99s[name]):<40} {spread(cpu[name]):<40} "
            f"{spread(controls[name])}"
        )
    if options.calibrate:
        print()
        print("calibration: the baseline plus N us of pure CPU per request, throughput / baseline")
        for name in PAYLOADS:
            cells = "  ".join(f"+{us} us: {spread(r)}" for us, r in burnt_ratios[name].items())
            print(f"{name:<20} {cells}")
            budget = work_budget(base_cpu[name], hook_extra[name], burnt_extra[name])
            print(
                f"{'':<20} too noisy to price work"
                if budget is None
                else f"{'':<20} the 0.85 target leaves ~{budget[0]:.0f} us of work per request here; "
                f"the webhook's extra work is worth ~{budget[1]:.0f} us"
            )
    growth = (rss[100_000] - rss[10_000]) / 1024
    print(
        f"RSS after 10k {rss[10_000] / 1024:.1f} MB, after 100k {rss[100_000] / 1024:.1f} MB: "
        f"+{growth:.1f} MB (<=10)"
    )
    met = all(min(r) >= 0.85 for r in ratios.values()) and all(max(p) <= 1.25 for p in p99s.values())
    met = met and growth <= 10
    print("targets met in every repeat" if met else "a target was missed in some repeat (see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
