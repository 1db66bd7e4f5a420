"""Test helpers: a tiny keep-alive HTTPS server on 127.0.0.1, a client that trusts a given CA bundle, and a
kubelet-style publisher that updates a directory through a `..data` symlink swap, as a mounted Secret does."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography import x509
from prometheus_client import CollectorRegistry

from mcp_admission.certs.metrics import CertMetrics
from mcp_admission.certs.reload import CertReloader

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"


def _answer(body: bytes) -> bytes:
    """`ok` to a plain request; to an AdmissionReview (the apiserver calling us), an allowing one."""
    if not body:
        return RESPONSE
    uid = json.loads(body)["request"]["uid"]
    review = json.dumps(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {"uid": uid, "allowed": True},
        }
    ).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(review)}\r\n\r\n"
    return head.encode() + review


async def _serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, open_: set[asyncio.Task[None]]
) -> None:
    task = asyncio.current_task()
    assert task is not None
    open_.add(task)
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            writer.write(_answer(await reader.readexactly(length) if length else b""))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        pass
    finally:
        open_.discard(task)
        writer.close()


class TLSServer:
    """An HTTPS server on a background event loop, its SSLContext reloaded by a CertReloader."""

    def __init__(self, cert_file: Path, key_file: Path, *, interval: float = 0.05) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.registry = CollectorRegistry()  # this server's own metrics
        self.reloader = CertReloader(
            self.context, str(cert_file), str(key_file), metrics=CertMetrics(self.registry), interval=interval
        )
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._open: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> TLSServer:
        self._thread.start()

        async def start() -> tuple[asyncio.Server, asyncio.Task[None]]:
            assert self.reloader.reload(), "the first certificate pair did not load"
            server = await asyncio.start_server(
                lambda r, w: _serve_connection(r, w, self._open), "127.0.0.1", 0, ssl=self.context
            )
            return server, asyncio.get_running_loop().create_task(self.reloader.run())

        self._server, self._task = asyncio.run_coroutine_threadsafe(start(), self.loop).result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *_: object) -> None:
        async def stop() -> None:
            self._task.cancel()
            self._server.close()
            handlers = list(self._open)  # keep-alive clients (the apiserver) would hold them open
            for handler in handlers:
                handler.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


def client_context(ca_pem: bytes) -> ssl.SSLContext:
    """What the apiserver does: trust exactly the caBundle, check the Service's DNS name."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=ca_pem.decode())
    return context


@contextmanager
def connect(port: int, ca_pem: bytes, server_name: str) -> Iterator[ssl.SSLSocket]:
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        with client_context(ca_pem).wrap_socket(raw, server_hostname=server_name) as tls:
            yield tls
    finally:
        raw.close()


def request(tls: ssl.SSLSocket) -> bytes:
    """One keep-alive HTTP request on an open connection; the whole response."""
    tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while not data.endswith(b"ok"):
        chunk = tls.recv(4096)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data


def served_cert(port: int, ca_pem: bytes, server_name: str) -> x509.Certificate:
    """Handshake (verified against `ca_pem`), make one request, return the certificate served."""
    with connect(port, ca_pem, server_name) as tls:
        assert request(tls).startswith(b"HTTP/1.1 200")
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        return x509.load_der_x509_certificate(der)


class MountedSecret:
    """A directory updated like a kubelet Secret volume: files are links into `..data`, which is swapped."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self._generation = 0

    def publish(self, files: dict[str, bytes]) -> None:
        self._generation += 1
        version = self.dir / f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{self._generation}"
        version.mkdir()
        for name, data in files.items():
            (version / name).write_bytes(data)
            os.chmod(version / name, 0o600 if name.endswith(".key") else 0o644)
        temp = self.dir / "..data_tmp"
        temp.symlink_to(version.name)
        os.replace(temp, self.dir / "..data")  # the atomic step
        for name in files:
            link = self.dir / name
            if not link.is_symlink():
                link.symlink_to(f"..data/{name}")

    def path(self, name: str) -> Path:
        return self.dir / name
