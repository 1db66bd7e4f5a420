"""`mcp-admission check` against PyYAML alone, both as whole processes (what CI pays).

Two measurements, each a pair of commands run as subprocesses, interleaved, several times:

- throughput: `mcp-admission check -f stream.yaml -o json` on a stream of 10,000 objects (half of them
  MCP workloads) vs. a Python process that only parses the same file with PyYAML's C loader
  (`yaml.load_all(text, Loader=yaml.CSafeLoader)`). Budget (issue 12): check ≤ 1.33 × parse.
- cold start: `mcp-admission check -f small.yaml` (one ConfigMap) vs. `python -c "import yaml"`.
  Budget (issue 12): check ≤ 0.25 s.

Each run's wall-clock time and its CPU time (user + system, from getrusage(RUSAGE_CHILDREN) before
and after) are taken; medians (and minima) are printed with the ratios. The verdicts use CPU time:
on a shared machine the wall clock mostly measures the neighbours (a process waiting for a core);
CPU time is what the process itself costs, and equals wall-clock time on an idle machine.

    .venv/bin/python bench/check/bench_check.py [--objects 10000] [--repeat 5] [--output json]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

THROUGHPUT_BUDGET = 1.33  # check / parse-only
COLD_START_BUDGET = 0.25  # seconds
ISSUE_PYYAML_START = 0.03  # seconds: `python -c "import yaml"` where the issue set the cold-start budget
FORMATS = ("text", "json", "sarif", "junit")
PARSE_ONLY = """\
import sys, yaml
with open(sys.argv[1], encoding="utf-8") as f:
    text = f.read()
for _ in yaml.load_all(text, Loader=yaml.CSafeLoader):
    pass
"""
SMALL = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\ndata: {a: '1'}\n"

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


class Timing(NamedTuple):
    wall: float  # seconds
    cpu: float  # seconds of user + system time of the child


def timed(command: Sequence[str]) -> Timing:
    """Runs `command` to completion, its output to /dev/null; exits the benchmark if it fails."""
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    proc = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{command[0]} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timing(wall, cpu)


def console_script() -> str:
    found = Path(sys.executable).with_name("mcp-admission")
    script = str(found) if found.exists() else shutil.which("mcp-admission")
    if script is None:
        raise SystemExit("the mcp-admission console script is not installed (pip install -e .)")
    return script


def interleaved(commands: dict[str, list[str]], repeat: int) -> dict[str, list[Timing]]:
    """Each command once per round, `repeat` rounds after one warm-up round (file cache, .pyc)."""
    for command in commands.values():
        timed(command)
    times: dict[str, list[Timing]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            times[name].append(timed(command))
    return times


def show(name: str, timings: list[Timing]) -> None:
    """Prints the medians and minima."""
    median = Timing(statistics.median(t.wall for t in timings), statistics.median(t.cpu for t in timings))
    least = Timing(min(t.wall for t in timings), min(t.cpu for t in timings))
    print(
        f"  {name:34} wall median {median.wall * 1000:6.0f} ms (min {least.wall * 1000:.0f}), "
        f"CPU median {median.cpu * 1000:6.0f} ms (min {least.cpu * 1000:.0f})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--output", default="json", choices=FORMATS)
    options = parser.parse_args()
    check = console_script()
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp, "stream.yaml"), Path(tmp, "small.yaml")
        text = stream(options.objects)
        big.write_text(text)
        small.write_text(SMALL)
        times = interleaved(
            {
                "parse only (CSafeLoader)": [sys.executable, "-c", PARSE_ONLY, str(big)],
                f"mcp-admission check -o {options.output}": [
                    check,
                    "check",
                    "-f",
                    str(big),
                    "-o",
                    options.output,
                ],
                'python -c "import yaml"': [sys.executable, "-c", "import yaml"],
                "mcp-admission check (one object)": [check, "check", "-f", str(small)],
            },
            options.repeat,
        )
    print(f"{options.objects} objects ({len(text) / 1e6:.1f} MB), {options.repeat} interleaved runs of each:")
    for name, timings in times.items():
        show(name, timings)
    parse, full, python, cold = times.values()
    # Ratios within a round (the runs next to each other saw the same neighbours), then their median.
    ratio = paired(full, parse)
    print(
        f"throughput: check / parse = {ratio.cpu:.2f} CPU ({ratio.wall:.2f} wall), budget {THROUGHPUT_BUDGET}"
    )
    start = Timing(statistics.median(t.wall for t in cold), statistics.median(t.cpu for t in cold))
    relative = paired(cold, python)
    print(
        f"cold start: check {start.cpu:.3f} s CPU ({start.wall:.3f} s wall), budget {COLD_START_BUDGET} s; "
        f"{relative.cpu:.1f} x python + PyYAML (the issue's {COLD_START_BUDGET} s where they start in "
        f"{ISSUE_PYYAML_START} s: {COLD_START_BUDGET / ISSUE_PYYAML_START:.1f} x)"
    )
    ok = ratio.cpu <= THROUGHPUT_BUDGET and start.cpu <= COLD_START_BUDGET
    print("within budget" if ok else "OVER BUDGET")
    return 0 if ok else 1


def paired(numerators: list[Timing], denominators: list[Timing]) -> Timing:
    """The median ratio of the runs of each round."""
    return Timing(
        statistics.median(n.wall / d.wall for n, d in zip(numerators, denominators, strict=True)),
        statistics.median(n.cpu / d.cpu for n, d in zip(numerators, denominators, strict=True)),
    )


if __name__ == "__main__":
    sys.exit(main())
