"""CertReloader on a real TLS server: symlink-swap hot reload, open connections kept, bad pairs refused."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from cryptography import x509
from prometheus_client import CollectorRegistry

from mcp_admission.certs.generate import Bundle, generate_bundle
from mcp_admission.certs.metrics import CertMetrics
from mcp_admission.certs.reload import CertReloader
from tests.support import eventually

from .tlsutil import MountedSecret, TLSServer, connect, request, served_cert

NAME = "webhook.tools.svc"


def _files(bundle: Bundle) -> dict[str, bytes]:
    return {"tls.crt": bundle.cert_pem, "tls.key": bundle.key_pem, "ca.crt": bundle.ca_cert_pem}


def _metric(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def _leaf(bundle: Bundle) -> x509.Certificate:
    return x509.load_pem_x509_certificate(bundle.cert_pem)


def _counts_one_more(
    registry: CollectorRegistry, name: str, action: Callable[[], None]
) -> Callable[[], bool]:
    """Do `action`; the condition that counter `name` has grown since."""
    before = _metric(registry, name)
    action()
    return lambda: _metric(registry, name) > before


@pytest.fixture
def mounted(tmp_path: Path) -> MountedSecret:
    return MountedSecret(tmp_path / "tls")


def test_symlink_swap_reloads_without_dropping_an_open_connection(mounted: MountedSecret) -> None:
    first, second = generate_bundle("webhook", "tools"), generate_bundle("webhook", "tools")
    both = first.ca_cert_pem + second.ca_cert_pem
    mounted.publish(_files(first))
    with TLSServer(mounted.path("tls.crt"), mounted.path("tls.key")) as server:
        with connect(server.port, both, NAME) as kept:
            assert request(kept).startswith(b"HTTP/1.1 200")
            der = kept.getpeercert(binary_form=True)
            assert der is not None and x509.load_der_x509_certificate(der) == _leaf(first)

            mounted.publish(_files(second))
            eventually(lambda: served_cert(server.port, both, NAME) == _leaf(second), "the swapped pair")

            # The keep-alive connection made before the swap still answers, on its own session.
            for _ in range(3):
                assert request(kept).startswith(b"HTTP/1.1 200")
        assert server.reloader.loaded
        expiry = _leaf(second).not_valid_after_utc.timestamp()
        assert (
            _metric(server.registry, "mcp_admission_certificate_expiry_timestamp_seconds", cert="serving")
            == expiry
        )
        ca = x509.load_pem_x509_certificate(second.ca_cert_pem)
        assert _metric(server.registry, "mcp_admission_certificate_expiry_timestamp_seconds", cert="ca") == (
            ca.not_valid_after_utc.timestamp()
        )


def test_bad_swaps_keep_the_old_pair_and_are_counted(
    mounted: MountedSecret, caplog: pytest.LogCaptureFixture
) -> None:
    good, other, later = (generate_bundle("webhook", "tools") for _ in range(3))
    trust = good.ca_cert_pem + later.ca_cert_pem
    mounted.publish(_files(good))
    caplog.set_level(logging.ERROR, logger="mcp_admission.certs.reload")
    with TLSServer(mounted.path("tls.crt"), mounted.path("tls.key")) as server:
        bad_swaps = [
            ({**_files(good), "tls.crt": b"-----BEGIN CERTIFICATE-----\nnot base64\n"}, "not a valid PEM"),
            ({**_files(good), "tls.key": other.key_pem}, "private key does not match the certificate"),
            ({**_files(good), "tls.key": b"garbage"}, "not a valid PEM private key"),
        ]
        for files, reason in bad_swaps:
            eventually(
                _counts_one_more(
                    server.registry, "mcp_admission_cert_reload_errors_total", partial(mounted.publish, files)
                ),
                "a refused reload",
            )
            assert reason in caplog.text and "keeping the previous pair" in caplog.text
            caplog.clear()
            # Still the good pair, for new handshakes too.
            assert served_cert(server.port, trust, NAME) == _leaf(good)

        mounted.publish(_files(later))  # a good swap after bad ones is taken
        eventually(
            lambda: served_cert(server.port, trust, NAME) == _leaf(later), "the good pair after bad ones"
        )


def test_reload_reports_missing_files_and_counts_them(tmp_path: Path) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    registry = CollectorRegistry()
    reloader = CertReloader(
        context, str(tmp_path / "tls.crt"), str(tmp_path / "tls.key"), metrics=CertMetrics(registry)
    )
    assert reloader.reload() is False
    assert not reloader.loaded
    assert _metric(registry, "mcp_admission_cert_reload_errors_total") == 1


def test_poll_reloads_only_on_a_change_of_content(mounted: MountedSecret) -> None:
    bundle, renewed = generate_bundle("webhook", "tools"), generate_bundle("webhook", "tools")
    mounted.publish(_files(bundle))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    registry = CollectorRegistry()
    reloader = CertReloader(
        context,
        str(mounted.path("tls.crt")),
        str(mounted.path("tls.key")),
        metrics=CertMetrics(registry),
        interval=0.01,
    )
    loads = _metric(registry, "mcp_admission_cert_reloads_total")

    async def scenario() -> None:
        task = asyncio.create_task(reloader.run())
        while _metric(registry, "mcp_admission_cert_reloads_total") < loads + 1:
            await asyncio.sleep(0.01)
        mounted.publish(_files(bundle))  # same bytes behind a new ..data directory
        await asyncio.sleep(0.2)  # twenty polls
        assert _metric(registry, "mcp_admission_cert_reloads_total") == loads + 1
        mounted.publish(_files(renewed))
        while _metric(registry, "mcp_admission_cert_reloads_total") < loads + 2:
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(asyncio.wait_for(scenario(), timeout=20))
    assert reloader.loaded
