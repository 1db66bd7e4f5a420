"""`mcp-admission serve` as a real process: flags and environment, --dev, bad input, SIGTERM with requests
in flight."""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson
import pytest

from mcp_admission import environment
from tests.support import eventually, free_port

from .support import metric, review
from .test_admission import mcp_service, plain_deployment


@contextmanager
def process(
    args: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mcp_admission", "serve", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_ready(url: str, ca: Path, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, f"serve exited with {proc.returncode}:\n{log.read_text()}"
        try:
            if (
                httpx.get(
                    f"{url}/readyz", verify=ssl.create_default_context(cafile=str(ca)), timeout=2
                ).status_code
                == 200
            ):
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"not ready after 30 s:\n{log.read_text()}"
        time.sleep(0.1)


def heads_read(metrics_port: int, bodies: list[bytes]) -> None:
    """Until the server has read the heads of requests with these `bodies`: each then reserves its
    length in the body budget, which its metrics show (webhook.budget, webhook.metrics)."""

    def reserved() -> bool:
        text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
        return metric(text, "mcp_admission_body_bytes_in_flight", listener="admission") == sum(
            map(len, bodies)
        )

    eventually(reserved, "the server to read the requests' heads", interval=0.02)


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def tls_socket(port: int, ca: Path) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=20)
    return ssl.create_default_context(cafile=str(ca)).wrap_socket(raw, server_hostname="127.0.0.1")


def start_request(tls: ssl.SSLSocket, body: bytes, sent: int) -> None:
    """Send the head and the first `sent` bytes of the body: a request the server has begun to read."""
    head = (
        f"POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    tls.sendall(head + body[:sent])


def read_response(tls: ssl.SSLSocket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += tls.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE).group(1))  # type: ignore[union-attr]
    while len(rest) < length:
        rest += tls.recv(65536)
    return int(head.split()[1]), rest


def test_sigterm_finishes_requests_in_flight_then_exits_0(tls: Path, tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    log = tmp_path / "serve.log"
    env = {  # everything from the environment, as in the container
        environment.SERVE_HOST: "127.0.0.1",
        environment.SERVE_PORT: str(port),
        environment.SERVE_METRICS_PORT: str(metrics_port),
        environment.SERVE_CERT_FILE: str(tls / "tls.crt"),
        environment.SERVE_KEY_FILE: str(tls / "tls.key"),
        environment.SERVE_GRACE_PERIOD: "20",
        environment.SERVE_DRAIN_SECONDS: "0",  # the graceful shutdown alone (the drain: test_drain.py)
    }
    with process([], log, env) as proc:
        wait_ready(f"https://127.0.0.1:{port}", tls / "ca.crt", proc, log)
        in_flight = [review(mcp_service()) for _ in range(3)]
        bodies = [orjson.dumps(sent) for sent in in_flight]
        sockets = [tls_socket(port, tls / "ca.crt") for _ in bodies]
        for sock, body in zip(sockets, bodies, strict=True):
            start_request(sock, body, len(body) // 2)
        heads_read(metrics_port, bodies)

        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while not refuses_connections(port):  # stops accepting at once...
            assert time.monotonic() < deadline, "still accepting connections after SIGTERM"
            time.sleep(0.05)
        assert proc.poll() is None  # ...but waits for the requests it has begun

        for sock, body, sent in zip(sockets, bodies, in_flight, strict=True):
            sock.sendall(body[len(body) // 2 :])
            status, answer = read_response(sock)
            assert status == 200
            response = orjson.loads(answer)["response"]
            assert response["uid"] == sent["request"]["uid"] and response["patchType"] == "JSONPatch"
            sock.close()
        assert proc.wait(timeout=30) == 0
    lines = [orjson.loads(line) for line in log.read_bytes().splitlines() if line.startswith(b"{")]
    logged = {line["uid"] for line in lines if line.get("message") == "decision"}
    assert {sent["request"]["uid"] for sent in in_flight} <= logged


def test_grace_period_bounds_the_wait(tls: Path, tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    log = tmp_path / "serve.log"
    args = ["--host", "127.0.0.1", "--port", str(port), "--metrics-port", str(metrics_port)]
    args += ["--grace-period", "1", "--drain-seconds", "0"]
    args += ["--cert-file", str(tls / "tls.crt"), "--key-file", str(tls / "tls.key")]
    with process(args, log) as proc:
        wait_ready(f"https://127.0.0.1:{port}", tls / "ca.crt", proc, log)
        body = orjson.dumps(review(mcp_service()))
        with tls_socket(port, tls / "ca.crt") as stuck:
            start_request(stuck, body, 10)  # never finished
            heads_read(metrics_port, [body])
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0


def test_dev_mode_makes_a_throwaway_ca(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with process(["--dev", "--port", str(port), "--metrics-port", "0"], log) as proc:
        deadline = time.monotonic() + 30
        while not (found := re.search(r"throwaway CA at (\S+)", log.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        ca = Path(found.group(1))
        wait_ready(f"https://127.0.0.1:{port}", ca, proc, log)
        for host in ("127.0.0.1", "localhost"):
            verify = ssl.create_default_context(cafile=str(ca))
            sent = review(mcp_service())
            answer = httpx.post(f"https://{host}:{port}/mutate", json=sent, verify=verify)
            assert answer.json()["response"]["uid"] == sent["request"]["uid"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert not ca.exists(), "the throwaway CA outlived the process"


@pytest.mark.parametrize(
    ("args", "env", "code", "says"),
    [
        (
            ["--config", "/nonexistent/config.yaml"],
            {},
            2,
            "/nonexistent/config.yaml: cannot read configuration",
        ),
        (["--port", "70000"], {}, 2, "--port: Input should be less than or equal to 65535"),
        (
            [],
            {"MCP_ADMISSION_GRACE_PERIOD": "soon"},
            2,
            "MCP_ADMISSION_GRACE_PERIOD: Input should be a valid integer",
        ),
        (["--cert-file", "/nonexistent/tls.crt"], {}, 2, "cannot read /nonexistent/tls.crt"),
    ],
)
def test_unusable_settings_are_refused_clearly(
    tmp_path: Path, args: list[str], env: dict[str, str], code: int, says: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mcp_admission", "serve", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )
    assert result.returncode == code, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_config_file_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("webhook:\n  maxBodyBytes: 10\n")
    result = subprocess.run(
        [sys.executable, "-m", "mcp_admission", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"{config}: invalid configuration: webhook.maxBodyBytes" in result.stderr


@pytest.mark.parametrize("level", ["info", "debug"])
def test_requests_left_alone_are_logged_at_debug_only(tls: Path, tmp_path: Path, level: str) -> None:
    """One info line per request the engine leaves alone doubled CPU per request under load: debug."""
    port = free_port()
    log = tmp_path / "serve.log"
    args = ["--host", "127.0.0.1", "--port", str(port), "--metrics-port", "0", "--log-level", level]
    args += ["--drain-seconds", "0"]
    args += ["--cert-file", str(tls / "tls.crt"), "--key-file", str(tls / "tls.key")]
    sent = {
        "mcp": review(mcp_service()),
        "plain": review(plain_deployment(), "UPDATE", old=plain_deployment()),
    }
    with process(args, log) as proc:
        wait_ready(f"https://127.0.0.1:{port}", tls / "ca.crt", proc, log)
        with httpx.Client(
            verify=ssl.create_default_context(cafile=str(tls / "ca.crt")), timeout=10
        ) as client:
            for body in sent.values():
                assert client.post(f"https://127.0.0.1:{port}/mutate", json=body).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    lines = [orjson.loads(line) for line in log.read_bytes().splitlines() if line.startswith(b"{")]
    levels = {line["uid"]: line["level"] for line in lines if line.get("message") == "decision"}
    assert levels[sent["mcp"]["request"]["uid"]] == "info"
    if level == "debug":
        assert levels[sent["plain"]["request"]["uid"]] == "debug"
    else:
        assert sent["plain"]["request"]["uid"] not in levels
