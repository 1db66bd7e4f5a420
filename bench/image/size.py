"""The image's size and what our layers add, by installed distribution (tools/image builds it).

    .venv/bin/python bench/image/size.py              # builds localhost/mcp-admission:dev first
    .venv/bin/python bench/image/size.py --no-build --image localhost/mcp-admission:test

Sizes are of the unpacked files (what a node stores), as podman reports them; the per-distribution table
sums each distribution's RECORD inside the image. "Only for kubernetes" is what nothing else requires.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "image"
MB = 1e6

# Run inside the image: every installed distribution's size and requirements.
INSIDE = """
import importlib.metadata as md, json, os, re
out = {}
for d in md.distributions():
    size = 0
    for f in d.files or ():
        try:
            size += os.path.getsize(d.locate_file(f))
        except OSError:
            pass
    reqs = [re.split(r"[ ;<>=!~\\[(]", r, maxsplit=1)[0] for r in d.requires or () if "extra ==" not in r]
    key = lambda n: n.lower().replace("_", "-")
    out[key(d.metadata["Name"])] = [size, sorted({key(r) for r in reqs})]
print(json.dumps(out))
"""


def podman(*args: str) -> str:
    return subprocess.run([str(TOOL), "podman", *args], check=True, capture_output=True, text=True).stdout


Graph = dict[str, tuple[int, list[str]]]  # distribution -> (bytes, what it requires)


def closure(name: str, graph: Graph) -> set[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen or current not in graph:
            continue
        seen.add(current)
        todo.extend(graph[current][1])
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="localhost/mcp-admission:dev")
    parser.add_argument("--no-build", action="store_true", help="measure the image as it is")
    args = parser.parse_args()
    if not args.no_build:
        subprocess.run([str(TOOL), "build", "--tag", args.image], check=True, stdout=subprocess.DEVNULL)

    total = int(podman("image", "inspect", "--format", "{{.Size}}", args.image))
    history = json.loads(podman("history", "--format", "json", args.image))
    print(f"image {args.image}: {total / MB:.1f} MB")
    print("layers (newest first):")
    for layer in history:
        if layer["size"]:
            print(f"  {layer['size'] / MB:8.1f} MB  {' '.join(layer['CreatedBy'].split())[:90]}")

    raw = json.loads(
        podman("run", "--rm", "--network=none", "--entrypoint", "python3", args.image, "-c", INSIDE)
    )
    graph: Graph = {name: (int(size), [str(r) for r in reqs]) for name, (size, reqs) in raw.items()}
    ours = closure("mcp-admission", graph)
    added = sum(graph[n][0] for n in ours)
    print(f"\nmcp-admission and its dependencies: {added / MB:.1f} MB in {len(ours)} distributions")
    for name in sorted(ours, key=lambda n: -graph[n][0])[:12]:
        print(f"  {graph[name][0] / MB:8.1f} MB  {name}")
    without = closure("mcp-admission", {**graph, "kubernetes": (0, [])}) - {"kubernetes"}
    only_kube = ours - without
    kube = sum(graph[n][0] for n in only_kube)
    print(
        f"\nonly for kubernetes: {kube / MB:.1f} MB ({100 * kube / added:.0f} % of what our layers add, "
        f"{100 * kube / total:.0f} % of the image): {', '.join(sorted(only_kube))}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
