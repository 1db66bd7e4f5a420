"""A steady stream of MCP applies (server-side dry-run creates of opted-in Services) straight to the
apiserver, counting what came back patched and what did not. With failurePolicy: Ignore, a webhook the
apiserver cannot reach means a Service admitted *unpatched*, silently: that count must stay 0 while the
webhook is rolled. Used by tests/node and bench/node/rollout.py."""

from __future__ import annotations

import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

OPT_IN = {"mcp-admission.io/workload": "true"}


@dataclass
class Tally:
    sent: int = 0
    patched: int = 0
    unpatched: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # not admitted at all: status or exception
    unpatched_at: list[float] = field(default_factory=list)  # seconds since the stream started

    def line(self) -> str:
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())) or "none"
        return (
            f"{self.sent} dry-run creates: {self.patched} patched, {self.unpatched} admitted unpatched, "
            f"errors: {errors}"
        )


class Stream:
    """Dry-run creates at `rate` per second from a thread until stop(); bounded by `max_seconds`."""

    def __init__(
        self, env: dict[str, str], namespace: str, rate: float = 20.0, max_seconds: float = 300
    ) -> None:
        self.env, self.namespace, self.rate, self.max_seconds = env, namespace, rate, max_seconds
        self.tally = Tally()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dry-run-stream", daemon=True)

    def __enter__(self) -> Stream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> Tally:
        self._stop.set()
        self._thread.join(timeout=30)
        return self.tally

    def _run(self) -> None:
        env = self.env
        tls = ssl.create_default_context(cafile=env["KUBE_CA_FILE"])
        tls.load_cert_chain(env["KUBE_CLIENT_CERT"], env["KUBE_CLIENT_KEY"])
        client = httpx.Client(
            base_url=env["KUBE_APISERVER_URL"],
            verify=tls,
            timeout=30,
            trust_env=False,  # loopback only, whatever proxy the environment names
        )
        start = time.monotonic()
        path = f"/api/v1/namespaces/{self.namespace}/services"
        with client:
            while not self._stop.is_set() and time.monotonic() - start < self.max_seconds:
                due = start + self.tally.sent / self.rate
                self._stop.wait(max(0.0, due - time.monotonic()))
                body = {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": f"stream-{self.tally.sent}", "labels": OPT_IN},
                    "spec": {"selector": {"app": "stream"}, "ports": [{"name": "http", "port": 8080}]},
                }
                self.tally.sent += 1
                try:
                    response = client.post(path, params={"dryRun": "All"}, json=body)
                except httpx.HTTPError as exc:
                    self.tally.errors[type(exc).__name__] += 1
                    continue
                if response.status_code != 201:
                    self.tally.errors[str(response.status_code)] += 1
                elif response.json()["spec"].get("sessionAffinity") == "ClientIP":
                    self.tally.patched += 1
                else:
                    self.tally.unpatched += 1
                    self.tally.unpatched_at.append(round(time.monotonic() - start, 2))
