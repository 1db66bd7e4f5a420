"""CertManager against a real kube-apiserver: Secrets created once, caBundle injected, races converge."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from kubernetes import config
from kubernetes.client import ApiClient, Configuration
from prometheus_client import CollectorRegistry

from mcp_admission.certs.generate import create_ca, issue_serving_cert
from mcp_admission.certs.manager import CertManager, EnsureResult
from mcp_admission.certs.pem import CertError, cert_names, key_to_pem, load_ca, signed_by, to_pem
from mcp_admission.certs.settings import CertSettings
from mcp_admission.kube import MERGE_PATCH, Kube

from ..conftest import ControlPlane
from .conftest import (
    KINDS,
    PATHS,
    Cluster,
    ca_bundles,
    cert_metrics,
    ensure,
    new_api_client,
    put_secret,
    secret_data,
)

pytestmark = pytest.mark.cluster


def test_creates_secrets_once_and_injects_the_ca_bundle(cluster: Cluster) -> None:
    ns = cluster.namespace
    cluster.create_webhook_configuration(KINDS[0], f"{ns}-m", {})  # found by name
    cluster.create_webhook_configuration(KINDS[1], f"{ns}-v", {"certs-test": cluster.label})  # by label
    cluster.create_webhook_configuration(KINDS[1], f"{ns}-other", {"certs-test": "someone-else"})

    first = ensure(cluster)
    assert set(first.actions) == {
        f"created Secret {ns}/mcp-admission-ca with a new CA",
        f"injected caBundle into MutatingWebhookConfiguration {ns}-m",
        f"injected caBundle into ValidatingWebhookConfiguration {ns}-v",
        f"created Secret {ns}/mcp-admission-tls with a new serving certificate",
    }

    ca_secret, serving = cluster.secret("mcp-admission-ca"), cluster.secret("mcp-admission-tls")
    assert ca_secret["type"] == serving["type"] == "kubernetes.io/tls"
    assert set(serving["data"]) == {"tls.crt", "tls.key", "ca.crt"}  # the CA key stays in its own Secret
    ca = x509.load_pem_x509_certificate(secret_data(ca_secret, "tls.crt"))
    leaf = x509.load_pem_x509_certificate(secret_data(serving, "tls.crt"))
    assert signed_by(leaf, ca)
    assert secret_data(serving, "ca.crt") == secret_data(ca_secret, "ca.crt") == to_pem(ca)
    assert cert_names(leaf) == {
        "webhook",
        f"webhook.{ns}",
        f"webhook.{ns}.svc",
        f"webhook.{ns}.svc.cluster.local",
    }
    assert first.serving_expires == leaf.not_valid_after_utc and first.ca_expires == ca.not_valid_after_utc

    for kind, name in ((KINDS[0], f"{ns}-m"), (KINDS[1], f"{ns}-v")):
        assert ca_bundles(cluster, kind, name) == [to_pem(ca), to_pem(ca)]
    assert ca_bundles(cluster, KINDS[1], f"{ns}-other") == [b"", b""]  # not ours: untouched

    versions = cluster.versions()
    second = ensure(cluster)
    assert second.actions == () and not second.changed
    assert cluster.versions() == versions


def _race(cluster: Cluster, settings: CertSettings) -> list[EnsureResult | BaseException]:
    """Two replicas, each with its own connection, start ensure_once at the same moment."""
    start = threading.Barrier(2)
    results: list[EnsureResult | BaseException] = []

    def replica() -> None:
        api = new_api_client(cluster.plane)
        try:
            manager = CertManager(settings, Kube(api), cert_metrics())
            start.wait()
            results.append(manager.ensure_once())
        except BaseException as exc:
            results.append(exc)
        finally:
            api.close()  # type: ignore[no-untyped-call]

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_racing_ensures_write_each_object_once(new_cluster: Callable[[], Cluster]) -> None:
    for _ in range(3):  # a race can go either way: several rounds, each on fresh objects
        cluster = new_cluster()
        ns = cluster.namespace
        cluster.create_webhook_configuration(KINDS[0], f"{ns}-m", {"certs-test": cluster.label})
        cluster.create_webhook_configuration(KINDS[1], f"{ns}-v", {"certs-test": cluster.label})
        settings = cluster.settings()
        results = _race(cluster, settings)
        both = [r for r in results if isinstance(r, EnsureResult)]
        assert len(both) == 2, results
        # Each object was created or injected by exactly one of the two.
        actions = [a for r in both for a in r.actions]
        assert sorted(actions) == sorted(set(actions)) and len(actions) == 4
        assert both[0].ca_expires == both[1].ca_expires and both[0].serving_expires == both[1].serving_expires

        ca = x509.load_pem_x509_certificate(secret_data(cluster.secret("mcp-admission-ca"), "tls.crt"))
        leaf = x509.load_pem_x509_certificate(secret_data(cluster.secret("mcp-admission-tls"), "tls.crt"))
        assert signed_by(leaf, ca)
        assert ca_bundles(cluster, KINDS[0], f"{ns}-m") == [to_pem(ca)] * 2
        assert ca_bundles(cluster, KINDS[1], f"{ns}-v") == [to_pem(ca)] * 2
        versions = cluster.versions()
        assert ensure(cluster, settings).actions == ()
        assert cluster.versions() == versions  # a third run writes nothing: no write loop


def test_serving_certificate_renewed_when_due_or_names_change(cluster: Cluster) -> None:
    ns = cluster.namespace
    ensure(cluster)
    ca_secret = cluster.secret("mcp-admission-ca")
    ca, ca_key = load_ca(secret_data(ca_secret, "tls.crt"), secret_data(ca_secret, "tls.key"), "ca")
    # A serving certificate with 10 of 90 days left: under a third, so due.
    aged, aged_key = issue_serving_cert(
        ca, ca_key, "webhook", ns, validity=timedelta(days=90), now=datetime.now(UTC) - timedelta(days=80)
    )
    put_secret(
        cluster,
        "mcp-admission-tls",
        {"tls.crt": to_pem(aged), "tls.key": key_to_pem(aged_key), "ca.crt": to_pem(ca)},
    )
    result = ensure(cluster)
    assert len(result.actions) == 1 and result.actions[0].startswith(
        "issued a new serving certificate: 10.0 days"
    )
    renewed = x509.load_pem_x509_certificate(secret_data(cluster.secret("mcp-admission-tls"), "tls.crt"))
    assert renewed.serial_number != aged.serial_number and signed_by(renewed, ca)

    result = ensure(cluster, cluster.settings(extra_sans=("127.0.0.1",)))
    assert result.actions == ("issued a new serving certificate: its names do not match the Service",)
    leaf = x509.load_pem_x509_certificate(secret_data(cluster.secret("mcp-admission-tls"), "tls.crt"))
    assert "127.0.0.1" in cert_names(leaf)


def test_corrupt_serving_secret_is_replaced_but_a_corrupt_ca_is_an_error(cluster: Cluster) -> None:
    ns = cluster.namespace
    ensure(cluster)
    put_secret(cluster, "mcp-admission-tls", {"tls.crt": b"junk", "tls.key": b"junk"})
    result = ensure(cluster)
    assert result.actions[-1].startswith(f"issued a new serving certificate: Secret {ns}/mcp-admission-tls")

    ca_secret = cluster.secret("mcp-admission-ca")
    _, other_key = create_ca("webhook", ns)
    put_secret(
        cluster,
        "mcp-admission-ca",
        {"tls.crt": secret_data(ca_secret, "tls.crt"), "tls.key": key_to_pem(other_key)},
    )
    versions = cluster.versions()
    with pytest.raises(CertError, match=f"^Secret {ns}/mcp-admission-ca: the private key does not match"):
        ensure(cluster)
    assert cluster.versions() == versions  # nothing written on the way to the error

    put_secret(cluster, "mcp-admission-ca", {"tls.crt": b"junk", "tls.key": b"junk"})
    with pytest.raises(CertError, match=f"^Secret {ns}/mcp-admission-ca certificate: not a valid PEM"):
        ensure(cluster)


def test_secret_of_another_type_is_an_error(cluster: Cluster) -> None:
    put_secret(cluster, "mcp-admission-tls", {"x": b"y"}, type_="Opaque")
    with pytest.raises(CertError, match=r"type Opaque is not kubernetes\.io/tls; delete it and run again"):
        ensure(cluster)


def test_expired_ca_is_replaced(cluster: Cluster) -> None:
    ns = cluster.namespace
    old, old_key = create_ca(
        "webhook", ns, validity=timedelta(days=10), now=datetime.now(UTC) - timedelta(days=20)
    )
    put_secret(cluster, "mcp-admission-ca", {"tls.crt": to_pem(old), "tls.key": key_to_pem(old_key)})
    result = ensure(cluster)
    assert any(a.startswith("replaced the CA, expired on") for a in result.actions)
    ca_secret = cluster.secret("mcp-admission-ca")
    assert secret_data(ca_secret, "ca.crt") == secret_data(ca_secret, "tls.crt") != to_pem(old)


class InterferingClient(ApiClient):
    """A real client whose next `interfere` writes to URLs containing `target` are each preceded by another
    writer's change of the same object: the apiserver then really answers 409 Conflict to ours."""

    def __init__(
        self, plane: ControlPlane, target: str, interfere: int, foreign: Callable[[int], None]
    ) -> None:
        configuration = Configuration()
        config.load_kube_config(config_file=str(plane.kubeconfig), client_configuration=configuration)  # type: ignore[no-untyped-call]
        super().__init__(configuration)
        self.target, self.interfere, self.foreign = target, interfere, foreign

    def call_api(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if method in ("PATCH", "PUT") and self.target in url and self.interfere > 0:
            self.interfere -= 1
            self.foreign(self.interfere)
        return super().call_api(method, url, *args, **kwargs)


def test_conflicts_are_re_read_and_retried(cluster: Cluster, caplog: pytest.LogCaptureFixture) -> None:
    """Another writer changes the webhook configuration (3 times) and the serving Secret (2 times) just
    before each of our writes: every 409 is re-read and retried; their changes and ours both stay."""
    name = f"{cluster.namespace}-m"
    cluster.create_webhook_configuration(KINDS[0], name, {})
    ensure(cluster)

    def annotate(i: int) -> None:
        patch = {"metadata": {"annotations": {"other-writer": str(i)}}}
        cluster.kube.request("PATCH", f"{PATHS[KINDS[0]]}/{name}", body=patch, content_type=MERGE_PATCH)

    def label(i: int) -> None:
        patch = {"metadata": {"labels": {"other-writer": str(i)}}}
        path = f"{cluster.secrets}/mcp-admission-tls"
        cluster.kube.request("PATCH", path, body=patch, content_type=MERGE_PATCH)

    caplog.set_level(logging.INFO, logger="mcp_admission.certs")
    # A CA rotation (forced by a short-lived CA) makes the pass write the CA Secret, both caBundles and
    # the serving Secret.
    old, old_key = create_ca(
        "webhook", cluster.namespace, validity=timedelta(days=3), now=datetime.now(UTC) - timedelta(days=2)
    )
    put_secret(cluster, "mcp-admission-ca", {"tls.crt": to_pem(old), "tls.key": key_to_pem(old_key)})

    webhooks = InterferingClient(cluster.plane, "mutatingwebhookconfigurations", 3, annotate)
    result = CertManager(cluster.settings(), Kube(webhooks), cert_metrics()).ensure_once()
    webhooks.close()  # type: ignore[no-untyped-call]
    assert webhooks.interfere == 0
    assert caplog.text.count("changed while injecting the caBundle; re-reading") == 3
    bundle = secret_data(cluster.secret("mcp-admission-ca"), "ca.crt")
    assert ca_bundles(cluster, KINDS[0], name) == [bundle, bundle]
    assert cluster.webhook_configuration(KINDS[0], name)["metadata"]["annotations"] == {"other-writer": "0"}
    assert any(a.startswith("rotated the CA") for a in result.actions)

    # The serving Secret: a forced renewal (names changed), with two foreign writes in the way.
    secrets = InterferingClient(cluster.plane, "/secrets/mcp-admission-tls", 2, label)
    settings = cluster.settings(extra_sans=("localhost",))
    result = CertManager(settings, Kube(secrets), cert_metrics()).ensure_once()
    secrets.close()  # type: ignore[no-untyped-call]
    assert secrets.interfere == 0
    assert caplog.text.count("changed while writing it; starting the pass again") == 2
    assert result.actions == ("issued a new serving certificate: its names do not match the Service",)
    serving = cluster.secret("mcp-admission-tls")
    assert "localhost" in cert_names(x509.load_pem_x509_certificate(secret_data(serving, "tls.crt")))
    assert serving["metadata"]["labels"]["other-writer"] == "0"
    versions = cluster.versions()
    assert ensure(cluster, cluster.settings(extra_sans=("localhost",))).actions == ()
    assert cluster.versions() == versions


def test_run_repeats_passes_and_survives_failures(cluster: Cluster) -> None:
    """run(): the periodic loop `serve --manage-certs` uses. A failing pass is counted and retried, never
    fatal; cancelling stops it."""
    registry = CollectorRegistry()
    broken = CertManager(
        cluster.settings(namespace="no-such-namespace"), cluster.kube, cert_metrics(registry)
    )
    working = CertManager(cluster.settings(check_interval_seconds=0.05), cluster.kube, cert_metrics())

    def has_secret() -> bool:
        return "Secret/mcp-admission-tls" in cluster.versions()

    async def scenario() -> None:
        failing = asyncio.create_task(broken.run())
        while not registry.get_sample_value("mcp_admission_cert_ensure_errors_total"):
            await asyncio.sleep(0.02)
        assert not failing.done()  # still looping after the failure
        failing.cancel()
        task = asyncio.create_task(working.run())
        while not await asyncio.to_thread(has_secret):
            await asyncio.sleep(0.02)
        versions = await asyncio.to_thread(cluster.versions)
        await asyncio.sleep(0.3)  # several more passes
        assert await asyncio.to_thread(cluster.versions) == versions  # which write nothing
        task.cancel()
        await asyncio.gather(task, failing, return_exceptions=True)
        assert task.cancelled()

    asyncio.run(asyncio.wait_for(scenario(), timeout=60))
