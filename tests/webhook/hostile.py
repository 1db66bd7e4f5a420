"""Hostile clients of the webhook (issue 23), shared by tests/webhook/test_hostile_clients.py and
bench/webhook/hostile.py: the shipped server as a process, a legitimate kept-alive client beside it, and
each attack as a bounded asyncio coroutine (loopback only; counts and durations are arguments).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import ssl
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx
import orjson
import yaml

from mcp_admission.certs.generate import generate_bundle, write_bundle
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = ROOT / "deploy" / "base" / "config.yaml"
SHIPPED_DEPLOYMENT = ROOT / "deploy" / "base" / "webhook.yaml"
SHIPPED_WEBHOOKS = ROOT / "deploy" / "components" / "webhooks" / "webhooks.yaml"
SHIPPED_README = ROOT / "deploy" / "README.md"
MIB = 1024 * 1024


def shipped_memory_limit() -> int:
    """The webhook container's memory limit in deploy/base/webhook.yaml, in bytes."""
    deployment = next(
        d for d in yaml.safe_load_all(SHIPPED_DEPLOYMENT.read_text()) if d["kind"] == "Deployment"
    )
    (container,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "webhook"]
    limit: str = container["resources"]["limits"]["memory"]
    assert limit.endswith("Mi"), limit
    return int(limit[:-2]) * MIB


def shipped_timeout_seconds() -> int:
    """The webhook configurations' timeoutSeconds: how long the apiserver waits for an answer."""
    timeouts = {
        hook["timeoutSeconds"]
        for config in yaml.safe_load_all(SHIPPED_WEBHOOKS.read_text())
        for hook in config["webhooks"]
    }
    assert len(timeouts) == 1, timeouts
    return int(timeouts.pop())


def shipped_settings() -> dict[str, object]:
    """The `webhook:` section of deploy/base/config.yaml, as written there (camelCase keys)."""
    settings: dict[str, object] = yaml.safe_load(SHIPPED_CONFIG.read_text())["webhook"]
    return settings


@dataclass
class Server:
    """`mcp-admission serve` as the Deployment runs it: the shipped configuration file, only the address,
    ports and certificate paths changed for loopback."""

    proc: subprocess.Popen[bytes]
    port: int
    metrics_port: int
    ca: Path
    log: Path
    settings: dict[str, object]  # the `webhook:` section it was started with (camelCase keys)

    def seconds(self, key: str) -> float:
        """A deadline of its configuration (requestTimeout, handshakeTimeout, ...), in seconds."""
        return float(self.settings[key])  # type: ignore[arg-type]

    def status(self, key: str) -> int:
        """A /proc/<pid>/status field in kB (VmHWM: peak RSS) or a count (Threads)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name == key:
                return int(value.split()[0])
        raise KeyError(key)

    @property
    def peak_rss(self) -> int:
        return self.status("VmHWM") * 1024

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).text


@contextlib.contextmanager
def shipped_server(
    directory: Path,
    root: Path = ROOT,
    python: str = sys.executable,
    *,
    overrides: Mapping[str, object] | None = None,
) -> Iterator[Server]:
    """The server of the tree at `root` run by `python` (bench/webhook/hostile.py --before: another tree),
    with `overrides` (camelCase keys of `webhook:`) written into its configuration file as a user would."""
    write_bundle(generate_bundle("hostile", "tests", extra_sans=("127.0.0.1",)), directory)
    config = yaml.safe_load((root / SHIPPED_CONFIG.relative_to(ROOT)).read_text())
    port, metrics_port = free_port(), free_port()
    config["webhook"].update(overrides or {})
    config["webhook"].update(
        host="127.0.0.1",
        port=port,
        metricsPort=metrics_port,
        certFile=str(directory / "tls.crt"),
        keyFile=str(directory / "tls.key"),
    )
    (directory / "config.yaml").write_text(yaml.safe_dump(config))
    log = directory / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [python, "-m", "mcp_admission", "serve", "--config", str(directory / "config.yaml")],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=root,
            env={k: v for k, v in os.environ.items() if not k.startswith("MCP_ADMISSION_")},
        )
    server = Server(proc, port, metrics_port, directory / "ca.crt", log, config["webhook"])
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"serve exited with {proc.returncode}:\n{log.read_text()}"
            with contextlib.suppress(httpx.HTTPError):
                ready = httpx.get(f"https://127.0.0.1:{port}/readyz", verify=server.context(), timeout=2)
                if ready.status_code == 200:
                    break
            assert time.monotonic() < deadline, f"not ready after 30 s:\n{log.read_text()}"
            time.sleep(0.1)
        yield server
        assert proc.poll() is None, f"serve died under attack ({proc.returncode}):\n{log.read_text()}"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # stop without SIGTERM's drain: the attack is measured, not that
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def admission_review(uid: str) -> bytes:
    """A small real review: a non-MCP Service CREATE (the engine allows it untouched)."""
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"}}
    request = {
        "uid": uid,
        "kind": {"group": "", "version": "v1", "kind": "Service"},
        "resource": {"group": "", "version": "v1", "resource": "services"},
        "name": "web",
        "namespace": "default",
        "operation": "CREATE",
        "userInfo": {"username": "kubernetes-admin"},
        "object": service,
        "dryRun": False,
    }
    return orjson.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})


# How long after its stop a thread beside the attack may take to see it, beyond the waits it is bounded by:
# a loaded machine's scheduling. A bound on the join, not a measurement.
SCHEDULING = 5.0


@dataclass
class Legit:
    """The apiserver beside the attack: one kept-alive HTTPS client posting a review every `interval`
    seconds, waiting at most `timeout` (the webhook configurations' timeoutSeconds) for each answer.

    `timeout` bounds each whole review, as the apiserver's deadline does (httpx's own timeouts bound each
    socket operation, of which a review has several): so the thread ends within `stop_within` of `stop`."""

    server: Server
    timeout: float
    interval: float = 0.05
    latencies: list[float] = field(default_factory=list)  # answered reviews, seconds
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def stop_within(self) -> float:
        """The most it takes to end once stopped: the wait between reviews, one review, the close."""
        return self.interval + 2 * self.timeout + SCHEDULING

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        # A new connection when the server closed the kept-alive one, as Go's transport does.
        client = httpx.AsyncClient(
            base_url=f"https://127.0.0.1:{self.server.port}",
            verify=self.server.context(),
            timeout=self.timeout,
        )
        try:
            n = 0
            while not self.stop.is_set():
                await asyncio.sleep(self.interval)
                n += 1
                await self._review(client, f"legit-{n}")
        finally:
            async with asyncio.timeout(self.timeout):
                await client.aclose()

    async def _review(self, client: httpx.AsyncClient, uid: str) -> None:
        start = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                answer = await client.post(
                    "/mutate", content=admission_review(uid), headers={"content-type": "application/json"}
                )
        except (httpx.HTTPError, TimeoutError) as exc:
            self.failures.append(repr(exc))
            return
        if answer.status_code != 200 or answer.json()["response"]["uid"] != uid:
            self.failures.append(f"{answer.status_code} {answer.text[:200]}")
            return
        self.latencies.append(time.perf_counter() - start)

    @property
    def sent(self) -> int:
        return len(self.latencies) + len(self.failures)

    def within_timeout(self) -> float:
        """The share of reviews answered within `timeout` (failures count as not answered)."""
        good = sum(1 for seconds in self.latencies if seconds <= self.timeout)
        return good / self.sent if self.sent else 0.0

    def quantile(self, q: float) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(q * 100) - 1]


@dataclass
class Probes:
    """The kubelet's probes: GET /readyz on a new connection every `period` s, failing after `timeout`
    (the probes' default timeoutSeconds, a bound on the whole probe as the kubelet's), on the admission
    port (HTTPS) and on the metrics port."""

    server: Server
    period: float = 0.5
    timeout: float = 1.0
    failed: dict[str, int] = field(default_factory=lambda: {"https": 0, "metrics": 0})
    sent: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def stop_within(self) -> float:
        """The most it takes to end once stopped: the wait between rounds and one round of two probes."""
        return self.period + 2 * self.timeout + SCHEDULING

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        urls = {
            "https": f"https://127.0.0.1:{self.server.port}/readyz",
            "metrics": f"http://127.0.0.1:{self.server.metrics_port}/readyz",
        }
        while not self.stop.is_set():
            await asyncio.sleep(self.period)
            self.sent += 1
            for port, url in urls.items():
                self.failed[port] += not await self._probe(url)

    async def _probe(self, url: str) -> bool:
        try:
            async with (
                asyncio.timeout(self.timeout),
                httpx.AsyncClient(verify=self.server.context(), timeout=self.timeout) as client,
            ):
                return (await client.get(url)).status_code == 200
        except (httpx.HTTPError, TimeoutError):
            return False


class _Beside(Protocol):
    stop: threading.Event

    @property
    def stop_within(self) -> float: ...

    def run(self) -> None: ...


@contextlib.contextmanager
def _running(*parts: _Beside) -> Iterator[None]:
    """Each part in a thread of its own until the block ends; then stopped, and every thread over before
    this returns, or an error: a thread left running outlives its test (its logging then writes to the
    test's closed output) and meets the next test's server."""
    threads = [threading.Thread(target=part.run, name=type(part).__name__, daemon=True) for part in parts]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for part in parts:
            part.stop.set()
        for part, thread in zip(parts, threads, strict=True):
            thread.join(part.stop_within)
        alive = [
            f"{t.name} ({p.stop_within:.1f} s)" for p, t in zip(parts, threads, strict=True) if t.is_alive()
        ]
        if alive:
            raise AssertionError(f"still running after their bound once stopped: {', '.join(alive)}")


@contextlib.contextmanager
def beside(server: Server, timeout: float) -> Iterator[tuple[Legit, Probes]]:
    """A legitimate client and the kubelet's probes, running until the block ends."""
    legit, probes = Legit(server, timeout), Probes(server)
    with _running(legit, probes):
        yield legit, probes


@contextlib.contextmanager
def legit_beside(server: Server, timeout: float) -> Iterator[Legit]:
    """A legitimate client, running until the block ends."""
    legit = Legit(server, timeout)
    with _running(legit):
        yield legit


# Attacks. Each returns an Outcome: what the server did to the attacking connections.


@dataclass
class Outcome:
    statuses: dict[int, int] = field(default_factory=dict)  # status of the server's answers -> count
    closed: int = 0  # connections the server closed (EOF or reset) within the bound
    open_at_end: int = 0  # connections still open when the attack gave up waiting
    # Per connection the server closed: its answer's status (None: none) and the seconds from the moment
    # the client began to connect to the close. The server cannot start its clocks any earlier: a
    # deadline of d seconds shows as at least d here.
    closed_after: list[tuple[int | None, float]] = field(default_factory=list)

    def seconds(self, status: int | None) -> list[float]:
        """When the connections answered `status` were closed, sorted."""
        return sorted(after for answered, after in self.closed_after if answered == status)

    async def watch(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        within: float,
        sender: asyncio.Task[None] | None = None,
        start: float | None = None,
    ) -> None:
        """Wait up to `within` s for the server's answer and close, count them, then let go. `start`: the
        monotonic time at which the client began to connect (else now)."""
        start = time.monotonic() if start is None else start
        status, closed = await answer_then_eof(reader, within)
        if closed:
            self.closed_after.append((status, time.monotonic() - start))
        if sender is not None:
            sender.cancel()
        if status is not None:
            self.statuses[status] = self.statuses.get(status, 0) + 1
        self.closed += closed
        self.open_at_end += not closed
        writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await writer.wait_closed()


async def _connect(server: Server, tls: bool = True) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if tls:
        return await asyncio.open_connection(
            "127.0.0.1", server.port, ssl=server.context(), server_hostname="127.0.0.1", limit=1 << 20
        )
    return await asyncio.open_connection("127.0.0.1", server.port)


async def answer_then_eof(reader: asyncio.StreamReader, within: float) -> tuple[int | None, bool]:
    """(status of the first answer or None, whether the server then closed) within `within` seconds."""
    status = None
    try:
        async with asyncio.timeout(within):
            line = await reader.readline()
            if line.startswith(b"HTTP/1.1 "):
                status = int(line.split()[1])
            while await reader.read(65536):
                pass
        return status, True
    except (ConnectionError, ssl.SSLError):
        return status, True
    except TimeoutError:
        return status, False


async def _send_stream(writer: asyncio.StreamWriter, head: bytes, chunk: bytes, total: int) -> None:
    """Write `head`, then `chunk` until `total` bytes, stopping quietly when the server closes."""
    with contextlib.suppress(ConnectionError, ssl.SSLError, RuntimeError):
        writer.write(head)
        sent = 0
        while sent < total and not writer.is_closing():
            writer.write(chunk)
            sent += len(chunk)
            await writer.drain()


async def endless_head(server: Server, kind: str, total: int, within: float) -> Outcome:
    """One connection sending a head that never ends, `total` bytes of it at most: small header lines
    (`lines`), one header value (`value`) or the URL (`url`)."""
    heads = {
        "lines": (b"POST /mutate HTTP/1.1\r\nHost: x\r\n", b"X-Pad: 0123456789abcdef\r\n" * 2048),
        "value": (b"POST /mutate HTTP/1.1\r\nHost: x\r\nX-Big: ", b"v" * 65536),
        "url": (b"POST /mutate?", b"q" * 65536),
    }
    head, chunk = heads[kind]
    reader, writer = await _connect(server)
    outcome = Outcome()
    await outcome.watch(reader, writer, within, asyncio.create_task(_send_stream(writer, head, chunk, total)))
    return outcome


async def held_bodies(server: Server, connections: int, body_bytes: int, within: float) -> Outcome:
    """`connections` connections each sending all but the last byte of a `body_bytes` review at once,
    then a byte a second: bodies that would take minutes to finish."""
    outcome = Outcome()

    async def one(i: int) -> None:
        start = time.monotonic()
        try:
            reader, writer = await _connect(server)
        except (ConnectionError, ssl.SSLError):
            outcome.closed += 1
            return
        head = (
            b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % body_bytes
        )

        async def trickle() -> None:
            with contextlib.suppress(ConnectionError, ssl.SSLError, RuntimeError):
                # All but the last 100 bytes at once, then one a second: complete after the deadline.
                writer.write(head + b"[" + b"0," * ((body_bytes - 100) // 2))
                await writer.drain()
                while not writer.is_closing():
                    await asyncio.sleep(1)
                    writer.write(b" ")
                    await writer.drain()

        await outcome.watch(reader, writer, within, asyncio.create_task(trickle()), start)

    await asyncio.gather(*(one(i) for i in range(connections)))
    return outcome


async def slowloris(server: Server, connections: int, within: float, tls: bool = True) -> Outcome:
    """`connections` connections that send a header byte every second (`tls`), or open TCP and never
    start the TLS handshake (not `tls`)."""
    outcome = Outcome()

    async def one() -> None:
        start = time.monotonic()
        try:
            reader, writer = await _connect(server, tls)
        except (ConnectionError, ssl.SSLError, TimeoutError):
            outcome.closed += 1
            return

        async def trickle() -> None:
            with contextlib.suppress(ConnectionError, ssl.SSLError, RuntimeError):
                for byte in b"POST /mutate HTTP/1.1\r\nX-Slow: " + b"s" * 10_000:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(1)

        await outcome.watch(reader, writer, within, asyncio.create_task(trickle()) if tls else None, start)

    await asyncio.gather(*(one() for _ in range(connections)))
    return outcome


async def idle_connections(server: Server, connections: int, port: int, hold: float) -> Outcome:
    """`connections` plain-TCP connections to `port` (the metrics port) that send nothing for `hold` s."""
    outcome = Outcome()

    async def one() -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except ConnectionError:
            outcome.closed += 1
            return
        await outcome.watch(reader, writer, hold)

    await asyncio.gather(*(one() for _ in range(connections)))
    return outcome


async def dense_json(server: Server, streams: int, seconds: float) -> Outcome:
    """`streams` kept-alive connections posting, one after the other for `seconds`, a body just under the
    limit made of ~300,000 small keys: the slowest JSON to parse that the limits let through."""
    outcome = Outcome()
    keys = 3_200_000 // 12  # '"0000000":0,' each
    body = b"{" + b",".join(b'"%07d":0' % i for i in range(keys)) + b"}"
    request = (
        b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    ) + body

    async def one() -> None:
        reader, writer = await _connect(server)
        end = time.monotonic() + seconds
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            while time.monotonic() < end:
                writer.write(request)
                await writer.drain()
                line = await reader.readline()
                if not line:
                    break
                status = int(line.split()[1])
                outcome.statuses[status] = outcome.statuses.get(status, 0) + 1
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
        await outcome.watch(reader, writer, 0.1)

    await asyncio.gather(*(one() for _ in range(streams)))
    return outcome


async def handshake_flood(server: Server, connections: int, rounds: int) -> Outcome:
    """`rounds` waves of `connections` simultaneous new TLS connections, each one request then closed."""
    outcome = Outcome()
    body = admission_review("flood")
    request = (
        b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    ) + body

    async def one() -> None:
        try:
            reader, writer = await _connect(server)
            writer.write(request)
            await writer.drain()
        except (ConnectionError, ssl.SSLError, TimeoutError):
            outcome.closed += 1
            return
        await outcome.watch(reader, writer, 30)

    for _ in range(rounds):
        await asyncio.gather(*(one() for _ in range(connections)))
    return outcome
