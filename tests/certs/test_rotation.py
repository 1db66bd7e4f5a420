"""A CA rotation end to end: the real manager on a real apiserver, a real TLS server reloading the mounted
serving Secret, and clients — the apiserver itself (through the injected caBundle) and Python ones trusting
the old CA only, the new CA only, or the bundle — before, during and after the overlap."""

from __future__ import annotations

import base64
import ssl
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from cryptography import x509

from mcp_admission.certs.generate import create_ca, issue_serving_cert
from mcp_admission.certs.pem import key_to_pem, signed_by, to_pem
from mcp_admission.kube import KubeError
from tests.support import eventually

from .conftest import KINDS, Cluster, Json, ca_bundles, ensure, put_secret, secret_data
from .tlsutil import MountedSecret, TLSServer, connect, request, served_cert

pytestmark = pytest.mark.cluster


def _admits(cluster: Cluster) -> None:
    """Create a ConfigMap: the apiserver calls our TLS server first, verifying it with the caBundle, and
    fails closed, so this raises unless that handshake succeeded."""
    body = {"metadata": {"generateName": "probe-"}, "data": {"k": "v"}}
    cluster.kube.request("POST", f"/api/v1/namespaces/{cluster.namespace}/configmaps", body=body)


def _admits_now(cluster: Cluster) -> bool:
    try:
        _admits(cluster)
    except KubeError:
        return False
    return True


def _serves(port: int, trust: bytes, name: str, leaf: x509.Certificate) -> bool:
    try:
        return served_cert(port, trust, name) == leaf
    except ssl.SSLError:
        return False


def _mount(mounted: MountedSecret, secret: Json) -> None:
    mounted.publish({key: base64.b64decode(value) for key, value in secret["data"].items()})


def test_ca_rotation_keeps_every_client_working(cluster: Cluster, tmp_path: Path) -> None:
    ns = cluster.namespace
    name = f"webhook.{ns}.svc"
    now = datetime.now(UTC)
    # An aging CA: 2 of its 10 days left. Its serving certificate also names 127.0.0.1, the URL the
    # apiserver calls here (in a cluster it would call webhook.<ns>.svc).
    old, old_key = create_ca("webhook", ns, validity=timedelta(days=10), now=now - timedelta(days=8))
    leaf, key = issue_serving_cert(old, old_key, "webhook", ns, extra_sans=["127.0.0.1"], now=now)
    put_secret(cluster, "mcp-admission-ca", {"tls.crt": to_pem(old), "tls.key": key_to_pem(old_key)})
    put_secret(
        cluster,
        "mcp-admission-tls",
        {"tls.crt": to_pem(leaf), "tls.key": key_to_pem(key), "ca.crt": to_pem(old)},
    )
    mounted = MountedSecret(tmp_path / "tls")
    _mount(mounted, cluster.secret("mcp-admission-tls"))
    only_old = to_pem(old)

    with TLSServer(mounted.path("tls.crt"), mounted.path("tls.key")) as server:
        live = f"{ns}-live"
        url = f"https://127.0.0.1:{server.port}/"
        cluster.create_webhook_configuration(KINDS[1], live, {"certs-test": cluster.label}, live_url=url)

        # Before: a patient setting (renew with 10% left) keeps the CA; the caBundle gets injected.
        before = ensure(cluster, cluster.settings(extra_sans=("127.0.0.1",), renew_share=0.1))
        assert before.actions == (f"injected caBundle into ValidatingWebhookConfiguration {live}",)
        eventually(lambda: _admits_now(cluster), "the apiserver to trust the injected caBundle")
        assert served_cert(server.port, only_old, name) == leaf

        # A connection opened before the rotation and kept alive across all of it.
        with connect(server.port, only_old, name) as kept:
            assert request(kept).startswith(b"HTTP/1.1 200")

            # During: the default share (a third) finds the CA due and rotates it.
            settings = cluster.settings(extra_sans=("127.0.0.1",), ca_overlap_seconds=3600)
            during = ensure(cluster, settings)
            assert during.actions[0].startswith("rotated the CA (2.0 days were left)")
            ca_secret, serving = cluster.secret("mcp-admission-ca"), cluster.secret("mcp-admission-tls")
            new = x509.load_pem_x509_certificate(secret_data(ca_secret, "tls.crt"))
            new_leaf, cross = x509.load_pem_x509_certificates(secret_data(serving, "tls.crt"))
            assert (
                signed_by(new_leaf, new) and signed_by(cross, old) and cross.public_key() == new.public_key()
            )
            assert ca_bundles(cluster, KINDS[1], live) == [to_pem(new, old)] * 2
            assert secret_data(serving, "ca.crt") == to_pem(new, old)
            only_new, both = to_pem(new), to_pem(new, old)

            # The pods still serve the old certificate: the apiserver, trusting both CAs, never fails.
            _admits(cluster)
            assert served_cert(server.port, only_old, name) == leaf
            # The kubelet updates the mounted Secret; the server reloads.
            _mount(mounted, serving)
            eventually(lambda: _serves(server.port, only_new, name, new_leaf), "the new serving certificate")
            _admits(cluster)
            for trust in (only_old, only_new, both):  # old-only clients verify through the cross-certificate
                assert served_cert(server.port, trust, name) == new_leaf
            assert request(kept).startswith(b"HTTP/1.1 200")

            # Within the overlap, passes change nothing.
            versions = cluster.versions()
            again = ensure(cluster, settings)
            assert again.actions == () and cluster.versions() == versions
            assert again.retire_at == new_leaf.not_valid_before_utc + timedelta(minutes=5, seconds=3600)

            # After: the overlap is over (here: set to 0); the old CA leaves the bundle and the chain.
            after = ensure(cluster, cluster.settings(extra_sans=("127.0.0.1",), ca_overlap_seconds=0))
            assert after.actions == (
                "ended the CA overlap: dropped the previous CA",
                f"injected caBundle into ValidatingWebhookConfiguration {live}",
                f"updated Secret {ns}/mcp-admission-tls: CA bundle and chain",
            )
            assert ca_bundles(cluster, KINDS[1], live) == [only_new] * 2
            serving = cluster.secret("mcp-admission-tls")
            assert x509.load_pem_x509_certificates(secret_data(serving, "tls.crt")) == [new_leaf]
            reloads = partial(server.registry.get_sample_value, "mcp_admission_cert_reloads_total")
            loaded = reloads() or 0.0
            _mount(mounted, serving)
            eventually(lambda: (reloads() or 0.0) > loaded, "the reload of the shortened chain")
            _admits(cluster)
            assert served_cert(server.port, only_new, name) == new_leaf
            with pytest.raises(ssl.SSLCertVerificationError):
                served_cert(server.port, only_old, name)  # the overlap is over for old-only clients
            assert request(kept).startswith(b"HTTP/1.1 200")  # but open connections are never cut
