"""Starting a benchmark's TLS server: a free loopback port, and the wait until it completes a handshake.

Shared by bench/webhook/run.py and bench/admission/latency.py. A handshake, not /readyz: the control
server answers every path as a review, and one wait for every server keeps them alike.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_handshake(
    port: int, cafile: Path, process: subprocess.Popen[bytes], what: str, log: Path
) -> None:
    """Return once a TLS handshake on 127.0.0.1:port succeeds; exit if the process ends or 30 s pass."""
    trust = ssl.create_default_context(cafile=str(cafile))
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as raw:
                trust.wrap_socket(raw, server_hostname="127.0.0.1").close()
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"the {what} server did not start: see {log}") from None
            time.sleep(0.1)
