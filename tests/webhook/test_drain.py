"""SIGTERM drains before the graceful shutdown: a real `serve` process over real TLS, with kept-alive
connections the way the apiserver keeps them (one pool per webhook Service, reused whatever its endpoints
say), loses no review while its pod goes away."""

from __future__ import annotations

import signal
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import pytest

from tests.support import eventually, free_port

from .support import review
from .test_admission import mcp_service
from .test_process import process, wait_ready

# Long enough for the checks below on a loaded machine (each ends on a condition; they take a quarter
# of a second at a load of 7 on 2 cores), and the test asserts that they did end within it.
DRAIN = 3
GRACE = 5


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def closes(self) -> bool:
        return "close" in self.headers.get("connection", "").lower()


class Conn:
    """One kept-alive HTTP/1.1 connection over TLS, as a Go client pools it."""

    def __init__(self, port: int, ca: Path) -> None:
        raw = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.tls = ssl.create_default_context(cafile=str(ca)).wrap_socket(raw, server_hostname="127.0.0.1")
        self.buffer = b""

    def send(self, body: bytes, upto: int | None = None) -> None:
        """The head and `body` (its first `upto` bytes only: a request the server has begun to read)."""
        head = (
            f"POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.tls.sendall(head + body[:upto])

    def read(self) -> Answer:
        """One whole answer; fails if the connection ends before it."""
        while b"\r\n\r\n" not in self.buffer:
            self._more()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        length = int(headers["content-length"])
        while len(self.buffer) < length:
            self._more()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Answer(int(lines[0].split()[1]), headers, body)

    def ask(self, sent: dict[str, object]) -> Answer:
        self.send(orjson.dumps(sent))
        answer = self.read()
        assert answer.status == 200, answer
        response = orjson.loads(answer.body)["response"]
        assert response["uid"] == sent["request"]["uid"] and response["patchType"] == "JSONPatch"  # type: ignore[index]
        return answer

    def closed_by_server(self) -> bool:
        try:
            return self.tls.recv(1) == b""
        except (ConnectionError, ssl.SSLError):
            return True

    def _more(self) -> None:
        data = self.tls.recv(65536)
        assert data, "the server closed the connection before a whole answer"
        self.buffer += data

    def close(self) -> None:
        self.tls.close()


@dataclass
class Stream:
    """A client sending reviews back to back over kept-alive connections, opening a new one when the
    server closes its connection after an answer (what Go's transport does), until told to stop."""

    port: int
    ca: Path
    stop: threading.Event = field(default_factory=threading.Event)
    answers: list[tuple[float, Answer]] = field(default_factory=list)  # (when the request was sent, answer)
    failure: list[BaseException] = field(default_factory=list)
    connections: int = 0

    def run(self) -> None:
        try:
            conn = None
            while not self.stop.is_set():
                if conn is None:
                    conn = Conn(self.port, self.ca)
                    self.connections += 1
                sent_at = time.monotonic()
                answer = conn.ask(review(mcp_service()))
                self.answers.append((sent_at, answer))
                if answer.closes:
                    assert conn.closed_by_server(), "Connection: close, but the connection stayed open"
                    conn.close()
                    conn = None
            if conn is not None:
                conn.close()
        except BaseException as exc:  # surfaced by the test
            self.failure.append(exc)


def readyz(metrics_port: int) -> tuple[int, str]:
    answer = httpx.get(f"http://127.0.0.1:{metrics_port}/readyz", timeout=5)
    return answer.status_code, answer.json()["status"]


def serve_args(tls: Path, port: int, metrics_port: int, drain: int) -> list[str]:
    args = ["--host", "127.0.0.1", "--port", str(port), "--metrics-port", str(metrics_port)]
    args += ["--cert-file", str(tls / "tls.crt"), "--key-file", str(tls / "tls.key")]
    return [*args, "--drain-seconds", str(drain), "--grace-period", str(GRACE)]


def test_sigterm_drains_kept_alive_connections_then_exits_0(tls: Path, tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    log = tmp_path / "serve.log"
    ca = tls / "ca.crt"
    with process(serve_args(tls, port, metrics_port, DRAIN), log) as proc:
        wait_ready(f"https://127.0.0.1:{port}", ca, proc, log)
        assert readyz(metrics_port) == (200, "ok")
        # Pooled connections: kept alive before SIGTERM (else the test below proves nothing).
        idle, in_flight = Conn(port, ca), Conn(port, ca)
        for conn in (idle, in_flight):
            assert not conn.ask(review(mcp_service())).closes
        streams = [Stream(port, ca) for _ in range(2)]
        threads = [threading.Thread(target=stream.run, daemon=True) for stream in streams]
        for thread in threads:
            thread.start()
        eventually(lambda: all(len(s.answers) >= 3 for s in streams), "the streams to be answered")
        assert all(not answer.closes for stream in streams for _, answer in stream.answers[:3])
        pending = review(mcp_service())
        body = orjson.dumps(pending)
        in_flight.send(body, len(body) // 2)  # begun before SIGTERM, finished during the drain

        sigterm_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        eventually(lambda: readyz(metrics_port) == (503, "draining"), "/readyz to say draining")
        draining_at = time.monotonic()

        # A pooled connection idle at SIGTERM is still answered, then closed after the answer.
        assert idle.ask(review(mcp_service())).closes
        assert idle.closed_by_server()
        idle.close()  # as Go's transport does on EOF (else the shutdown waits its grace period for it)
        # The request in flight at SIGTERM gets its whole answer, with Connection: close.
        in_flight.tls.sendall(body[len(body) // 2 :])
        answer = in_flight.read()
        assert answer.status == 200 and answer.closes
        assert orjson.loads(answer.body)["response"]["uid"] == pending["request"]["uid"]
        assert in_flight.closed_by_server()
        in_flight.close()
        # A new connection (one dialled while an apiserver still lists the pod) is accepted and answered.
        late = Conn(port, ca)
        assert late.ask(review(mcp_service())).closes
        late.close()
        # The streams move to new connections, each closed after one answer.
        reconnected = [s.connections for s in streams]
        eventually(
            lambda: all(s.connections >= n + 2 for s, n in zip(streams, reconnected, strict=True)),
            "the streams to reconnect during the drain",
        )
        for stream in streams:
            stream.stop.set()
        for thread in threads:
            thread.join(timeout=30)
        assert proc.poll() is None, "the drain ended before the checks: the machine is too slow for DRAIN"
        for stream in streams:
            assert not stream.failure, stream.failure[0]
            after = [answer for sent_at, answer in stream.answers if sent_at > draining_at]
            assert after and all(answer.closes for answer in after)

        assert proc.wait(timeout=DRAIN + GRACE + 15) == 0
        assert time.monotonic() - sigterm_at >= DRAIN, "exited before its drain was over"
    lines = [orjson.loads(line) for line in log.read_bytes().splitlines() if line.startswith(b"{")]
    messages = [line["message"] for line in lines]
    assert messages.index("draining") < messages.index("shutting down")


@pytest.mark.parametrize(
    "signals",
    [(signal.SIGTERM, signal.SIGTERM), (signal.SIGTERM, signal.SIGINT), (signal.SIGINT,)],
    ids=["sigterm-twice", "sigint-during-the-drain", "sigint-alone"],
)
def test_a_second_signal_or_sigint_shuts_down_now(
    tls: Path, tmp_path: Path, signals: tuple[signal.Signals, ...]
) -> None:
    """SIGTERM drains; SIGINT (Ctrl+C), or a second signal during the drain, goes to the graceful
    shutdown at once (whose requests in flight finish: test_process.py)."""
    port, metrics_port = free_port(), free_port()
    log = tmp_path / "serve.log"
    long_drain = 600  # the process must exit long before this
    with process(serve_args(tls, port, metrics_port, long_drain), log) as proc:
        wait_ready(f"https://127.0.0.1:{port}", tls / "ca.crt", proc, log)
        first, *rest = signals
        proc.send_signal(first)
        if rest:
            eventually(lambda: readyz(metrics_port) == (503, "draining"), "/readyz to say draining")
            proc.send_signal(rest[0])
        assert proc.wait(timeout=GRACE + 30) == 0
    lines = [orjson.loads(line) for line in log.read_bytes().splitlines() if line.startswith(b"{")]
    messages = [line["message"] for line in lines]
    assert "shutting down" in messages
    assert ("draining" in messages) == (first == signal.SIGTERM)
