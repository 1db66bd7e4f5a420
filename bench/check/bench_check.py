"""`mcp-admission check` on one stream of 10,000 objects vs. only parsing it with PyYAML's C loader.

Budget (issue 2): check ≤ 1.33× parse. Both are timed in this process, on the same text, several
repetitions each, interleaved; the medians of wall-clock and of CPU time (steadier on a shared
machine) and their ratios are printed. The check runs the real
subcommand (argument parsing, loading, defaulting, the engine, the report) with stdout to /dev/null.

    .venv/bin/python bench/check/bench_check.py [--objects 10000] [--repeat 5] [--output text]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from mcp_admission import cli
from mcp_admission.check.reporters import FORMATS

BUDGET = 1.33

# One group of manifests as a cluster's CI would render them: mostly ordinary objects, some MCP
# workloads (ToolHive resources, what ToolHive creates, opted-in ones). {i} makes names unique.
GROUP = [
    """apiVersion: v1
kind: ConfigMap
metadata:
  name: app-{i}-config
  namespace: shop
  labels: {{app: app-{i}, tier: web}}
data:
  LOG_LEVEL: info
  FEATURE_FLAGS: "checkout,search"
""",
    """apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: shop
  labels: {{app: app-{i}, tier: web}}
spec:
  replicas: 3
  selector:
    matchLabels: {{app: app-{i}}}
  template:
    metadata:
      labels: {{app: app-{i}}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          ports: [{{containerPort: 8080, name: http}}]
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{cpu: 500m, memory: 256Mi}}
          envFrom: [{{configMapRef: {{name: app-{i}-config}}}}]
""",
    """apiVersion: v1
kind: Service
metadata:
  name: app-{i}
  namespace: shop
spec:
  selector: {{app: app-{i}}}
  ports: [{{name: http, port: 80, targetPort: http}}]
""",
    """apiVersion: toolhive.stacklok.dev/v1beta1
kind: MCPServer
metadata:
  name: tools-{i}
  namespace: mcp
spec:
  image: ghcr.io/example/tools-mcp:1.0.0
  transport: stdio
  proxyPort: 8080
  replicas: 2
  resources:
    requests: {{cpu: 50m, memory: 64Mi}}
""",
    """apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: search-{i}
  namespace: mcp
  labels:
    app: search-{i}
    toolhive: "true"
    toolhive-name: search-{i}
    toolhive-basename: search-{i}
    toolhive-transport: streamable-http
    toolhive-port: "8080"
spec:
  replicas: 1
  serviceName: search-{i}
  selector:
    matchLabels: {{app: search-{i}}}
  template:
    metadata:
      labels: {{app: search-{i}}}
    spec:
      containers:
        - name: mcp
          image: ghcr.io/example/search-mcp:0.9.2
          ports: [{{containerPort: 8080}}]
""",
    """apiVersion: v1
kind: Service
metadata:
  name: mcp-search-{i}
  namespace: mcp
  ownerReferences:
    - {{apiVersion: apps/v1, kind: StatefulSet, name: search-{i}, uid: x-{i}, controller: true}}
spec:
  selector: {{app: search-{i}}}
  ports: [{{name: port-8080, port: 8080}}]
""",
    """apiVersion: v1
kind: Secret
metadata:
  name: db-{i}
  namespace: shop
type: Opaque
stringData:
  password: not-a-real-password
""",
    """apiVersion: v1
kind: Service
metadata:
  name: notes-{i}
  namespace: team-a
  labels: {{mcp-admission.io/workload: "true"}}
spec:
  selector: {{app: notes-{i}}}
  sessionAffinity: ClientIP
  ports: [{{port: 80, targetPort: 3000}}]
""",
]


def stream(objects: int) -> str:
    docs = (GROUP[n % len(GROUP)].format(i=n // len(GROUP)) for n in range(objects))
    return "---\n".join(docs)


Timing = tuple[float, float]  # (wall seconds, CPU seconds of this process)


def timed(run: Callable[[], object]) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def parse_only(text: str) -> Timing:
    return timed(lambda: list(yaml.load_all(text, Loader=yaml.CSafeLoader)))


def check_command(path: str, output: str) -> Timing:
    codes: list[int] = []
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        elapsed = timed(lambda: codes.append(cli.main(["check", "-f", path, "--output", output])))
    if codes != [0]:
        raise SystemExit(f"the benchmark stream should check cleanly, got exit code {codes}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--output", default="text", choices=sorted(FORMATS))
    options = parser.parse_args()
    text = stream(options.objects)
    parse_times: list[Timing] = []
    check_times: list[Timing] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "stream.yaml")
        path.write_text(text)
        check_command(str(path), options.output)  # warm-up: imports, first-call caches
        for _ in range(options.repeat):
            parse_times.append(parse_only(text))
            check_times.append(check_command(str(path), options.output))
    print(
        f"objects: {options.objects} ({len(text) / 1e6:.1f} MB), output {options.output}, "
        f"{options.repeat} runs"
    )
    ratios = []
    for index, clock in enumerate(("wall", "cpu")):
        parse = statistics.median(t[index] for t in parse_times)
        check = statistics.median(t[index] for t in check_times)
        ratios.append(check / parse)
        print(
            f"{clock:4}: parse only (CSafeLoader) median {parse * 1000:.0f} ms; "
            f"mcp-admission check median {check * 1000:.0f} ms; ratio {check / parse:.3f}"
        )
    # Judged on CPU time: both runs are single-threaded, and on a shared machine the wall clock mostly
    # measures the neighbours (wall medians swing by 2x between runs; CPU ones by a few percent).
    verdict = "OK" if ratios[1] <= BUDGET else "OVER BUDGET"
    print(f"budget {BUDGET} (CPU-time ratio): {verdict}")
    return 0 if ratios[1] <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
