"""Small helpers every test area shares: a free loopback port, waiting for a condition, and the variables
the kubelet gives a container for the Services beside it. Helpers of several areas live in its modules
(kube: objects and lookups for cluster tests; reconciler: a running Reconciler; objects: the manifests the
cluster tests apply; toolhive_operator: ToolHive's operator Deployment as its chart renders it)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from hypothesis import settings

T = TypeVar("T")


def share_of_profile(share: float) -> int:
    """`max_examples` for a property whose examples are expensive (a helm or CEL run each): this share of
    the loaded Hypothesis profile's count (tests/conftest.py), so a thorough run draws more of them too."""
    return max(1, round(settings().max_examples * share))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def eventually(check: Callable[[], T | None], what: str, timeout: float = 30.0, interval: float = 0.1) -> T:
    """The first truthy result of `check`; AssertionError naming `what` after `timeout` seconds.

    A bound on how long to wait for something asynchronous, never a timing assertion.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def service_link_variables(services: Iterable[Mapping[str, Any]], first_ip: int = 10) -> dict[str, str]:
    """What the kubelet puts into every container for these Services (pkg/kubelet/envvars FromServices,
    v1.20-v1.36): N_SERVICE_HOST, N_SERVICE_PORT, N_SERVICE_PORT_<name>, N_PORT and N_PORT_<n>_<PROTO>
    with _PROTO, _PORT and _ADDR, N being the name upper-cased with `-` → `_`. Services without a cluster
    IP (headless, ExternalName) get none; each gets a made-up IP in 10.96/16 when it has none yet."""
    found: dict[str, str] = {}
    for offset, service in enumerate(services):
        spec = service.get("spec") or {}
        if spec.get("clusterIP") == "None" or spec.get("type") == "ExternalName" or not spec.get("ports"):
            continue
        ip = spec.get("clusterIP") or f"10.96.0.{first_ip + offset}"
        prefix = service["metadata"]["name"].upper().replace("-", "_")
        ports = spec["ports"]
        found[f"{prefix}_SERVICE_HOST"] = ip
        found[f"{prefix}_SERVICE_PORT"] = str(ports[0]["port"])
        for index, port in enumerate(ports):
            number, protocol = port["port"], port.get("protocol", "TCP")
            url = f"{protocol.lower()}://{ip}:{number}"
            if port.get("name"):
                found[f"{prefix}_SERVICE_PORT_{port['name'].upper().replace('-', '_')}"] = str(number)
            if index == 0:
                found[f"{prefix}_PORT"] = url
            link = f"{prefix}_PORT_{number}_{protocol.upper()}"
            found.update(
                {
                    link: url,
                    f"{link}_PROTO": protocol.lower(),
                    f"{link}_PORT": str(number),
                    f"{link}_ADDR": ip,
                }
            )
    return found
