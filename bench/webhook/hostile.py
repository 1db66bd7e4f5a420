"""Issue 23's attack table against the shipped webhook: one fresh server per attack, a legitimate
kept-alive client beside it, loopback only, every attack bounded in connections, bytes and seconds.

    .venv/bin/python bench/webhook/hostile.py [--only NAME ...] [--scale 1.0]
    .venv/bin/python bench/webhook/hostile.py --root /tmp/old-tree --python /tmp/old-tree/.venv/bin/python

The server is `mcp-admission serve --config <deploy/base/config.yaml of --root>` with only the address,
ports and certificate paths changed. Printed per attack: the server's peak RSS (VmHWM, against the
Deployment's memory limit), its threads at the end, the legitimate reviews (sent, share answered within
the webhook configurations' timeoutSeconds, p50/p99), and what the server did to the attacking
connections (answers by status, connections it closed, connections still open when the attack stopped
waiting), and how many kubelet-like probes (a new connection, 1 s timeout, every 0.5 s) failed on the
admission port and on the metrics port. `--scale` multiplies connection counts and bytes (0.25: a quick
look).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.webhook import hostile  # noqa: E402
from tests.webhook.hostile import MIB, Outcome, Server  # noqa: E402

Attack = Callable[[Server, float], Coroutine[Any, Any, Outcome]]


def attacks(scale: float) -> dict[str, tuple[str, Attack]]:
    def n(count: int) -> int:
        return max(1, int(count * scale))

    return {
        "head-lines": (
            "1 connection, 100 MiB of small header lines",
            lambda s, _: hostile.endless_head(s, "lines", n(100 * MIB), 60),
        ),
        "head-value": (
            "1 connection, one header value of 64 MiB",
            lambda s, _: hostile.endless_head(s, "value", n(64 * MIB), 60),
        ),
        "url": (
            "1 connection, a URL of 64 MiB",
            lambda s, _: hostile.endless_head(s, "url", n(64 * MIB), 60),
        ),
        "held-bodies": (
            "200 connections, 3.3 MB of body each at once, then a byte a second",
            lambda s, _: hostile.held_bodies(s, n(200), 3_300_000, 40),
        ),
        "slowloris": (
            "2,000 TLS connections, a header byte a second",
            lambda s, _: hostile.slowloris(s, n(2000), 40),
        ),
        "no-tls": (
            "2,000 TCP connections that never start TLS",
            lambda s, _: hostile.slowloris(s, n(2000), 40, tls=False),
        ),
        "dense-json": (
            "4 streams of 3.2 MB bodies of 266,000 keys, for 10 s",
            lambda s, _: hostile.dense_json(s, n(4), 10),
        ),
        "handshake-flood": (
            "new-TLS flood: 5 waves of 256 connections, one review each",
            lambda s, _: hostile.handshake_flood(s, n(256), 5),
        ),
        "metrics-idle": (
            "2,000 idle connections to the metrics port",
            lambda s, _: hostile.idle_connections(s, n(2000), s.metrics_port, 20),
        ),
    }


def run_one(name: str, attack: Attack, root: Path, python: str, timeout: float) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix=f"hostile-{name}-") as directory,
        hostile.shipped_server(Path(directory), root, python) as server,
    ):
        with hostile.beside(server, timeout) as (legit, probes):
            time.sleep(0.5)  # a few reviews before the attack
            started = time.monotonic()
            outcome = asyncio.run(attack(server, timeout))
            seconds = time.monotonic() - started
            time.sleep(0.5)
        alive = server.proc.poll() is None
        return {
            "rss": server.peak_rss if alive else 0,
            "threads": server.status("Threads") if alive else 0,
            "alive": alive,
            "legit": legit,
            "probes": probes,
            "outcome": outcome,
            "seconds": seconds,
        }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="*", default=[], help="attack names (default: all)")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--root", type=Path, default=ROOT, help="the tree whose server and config to run")
    parser.add_argument("--python", default=sys.executable, help="the interpreter with that tree installed")
    args = parser.parse_args()
    limit = hostile.shipped_memory_limit()
    timeout = hostile.shipped_timeout_seconds()
    table = attacks(args.scale)
    print(f"shipped: memory limit {limit // MIB} MiB, timeoutSeconds {timeout}; tree {args.root}")
    print(
        f"{'attack':<62} {'peak RSS':>9} {'thr':>4} {'legit ok':>9} {'p50 ms':>7} {'p99 ms':>7}  "
        "attacking connections"
    )
    for name, (title, attack) in table.items():
        if args.only and name not in args.only:
            continue
        r = run_one(name, attack, args.root, args.python, timeout)
        legit, outcome, probes = r["legit"], r["outcome"], r["probes"]
        rss = f"{r['rss'] / MIB:.0f} MiB" if r["alive"] else "DIED"
        statuses = ", ".join(f"{status}×{count}" for status, count in sorted(outcome.statuses.items()))
        print(
            f"{title:<62} {rss:>9} {r['threads']:>4} "
            f"{legit.within_timeout():>8.1%} {legit.quantile(0.5) * 1000:>7.1f} "
            f"{legit.quantile(0.99) * 1000:>7.1f}  "
            f"answers [{statuses}], closed by server {outcome.closed}, open at end {outcome.open_at_end} "
            f"({r['seconds']:.1f} s, {legit.sent} legit); probes failed of {probes.sent}: "
            f"https {probes.failed['https']}, metrics port {probes.failed['metrics']}",
            flush=True,
        )
        if legit.failures:
            print(f"    legit failures: {len(legit.failures)}, first: {legit.failures[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
