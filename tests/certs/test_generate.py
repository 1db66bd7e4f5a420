"""Generated material, parsed back with `cryptography`: names, usages, CA constraints, validity, modes."""

from __future__ import annotations

import ipaddress
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from mcp_admission.certs.generate import (
    Bundle,
    create_ca,
    cross_sign,
    generate_bundle,
    issue_serving_cert,
    service_names,
    write_bundle,
)
from mcp_admission.certs.pem import CertError, key_to_pem, signed_by, to_pem

from .tlsutil import TLSServer, served_cert

NAMES = ["webhook", "webhook.tools", "webhook.tools.svc", "webhook.tools.svc.cluster.local"]


def _parse(bundle: Bundle) -> tuple[x509.Certificate, x509.Certificate]:
    return x509.load_pem_x509_certificate(bundle.ca_cert_pem), x509.load_pem_x509_certificate(bundle.cert_pem)


def test_serving_certificate_names_usages_and_validity() -> None:
    before = datetime.now(UTC)
    bundle = generate_bundle(
        "webhook", "tools", extra_sans=["127.0.0.1", "::1", "localhost"], cert_validity=timedelta(days=30)
    )
    ca, cert = _parse(bundle)

    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == [*NAMES, "localhost"]
    assert sans.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    assert not usage.value.key_encipherment  # ECDSA: no RSA key transport
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and not constraints.value.ca

    assert signed_by(cert, ca)
    assert cert.not_valid_before_utc <= before
    # X.509 times have whole seconds.
    assert timedelta(days=30, seconds=-1) <= cert.not_valid_after_utc - before < timedelta(days=30, minutes=1)
    key = serialization.load_pem_private_key(bundle.key_pem, None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert key.public_key() == cert.public_key()


def test_ca_is_a_ca_with_its_own_unique_name() -> None:
    bundle = generate_bundle("webhook", "tools", ca_validity=timedelta(days=100))
    ca, _ = _parse(bundle)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    assert ca.issuer == ca.subject
    assert timedelta(days=100) <= ca.not_valid_after_utc - ca.not_valid_before_utc
    ca_key = serialization.load_pem_private_key(bundle.ca_key_pem, None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey) and ca_key.public_key() == ca.public_key()
    # Two CAs never share a name, so an old and a new one are never confused while both are trusted.
    assert ca.subject != _parse(generate_bundle("webhook", "tools"))[0].subject


def test_default_validities_and_rsa_option() -> None:
    bundle = generate_bundle("webhook", "tools", key_type="rsa", rsa_bits=3072)
    ca, cert = _parse(bundle)
    assert ca.not_valid_after_utc - ca.not_valid_before_utc >= timedelta(days=3650)
    assert timedelta(days=180) <= cert.not_valid_after_utc - cert.not_valid_before_utc < timedelta(days=181)
    key = serialization.load_pem_private_key(bundle.key_pem, None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 3072
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_encipherment


def test_serving_certificate_never_outlives_its_ca() -> None:
    ca, ca_key = create_ca("webhook", "tools", validity=timedelta(days=10))
    cert, _ = issue_serving_cert(ca, ca_key, "webhook", "tools", validity=timedelta(days=180))
    assert cert.not_valid_after_utc == ca.not_valid_after_utc


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key_type": "rsa", "rsa_bits": 1024}, "RSA keys need at least 2048 bits, not 1024"),
        ({"key_type": "dsa"}, "unknown key type 'dsa'"),
        ({"extra_sans": ["bad name/x"]}, "'bad name/x' is neither a DNS name nor an IP address"),
        ({"cert_validity": timedelta(0)}, "serving certificate validity must be positive"),
    ],
)
def test_bad_parameters_are_clear_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(CertError, match=message):
        generate_bundle("webhook", "tools", **kwargs)  # type: ignore[arg-type]


def test_an_expired_ca_signs_nothing() -> None:
    past = datetime.now(UTC) - timedelta(days=20)
    ca, ca_key = create_ca("webhook", "tools", validity=timedelta(days=10), now=past)
    with pytest.raises(CertError, match="expired on"):
        issue_serving_cert(ca, ca_key, "webhook", "tools")


def test_write_bundle_modes_and_atomic_replacement(tmp_path: Path) -> None:
    out = tmp_path / "tls"
    first = generate_bundle("webhook", "tools")
    write_bundle(first, out)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert modes == {"ca.crt": 0o644, "tls.crt": 0o644, "tls.key": 0o600}
    inode = (out / "tls.key").stat().st_ino

    second = generate_bundle("webhook", "tools")
    write_bundle(second, out)
    assert (out / "tls.key").read_bytes() == second.key_pem
    assert (out / "tls.crt").read_bytes() == second.cert_pem
    assert (out / "tls.key").stat().st_ino != inode  # replaced by rename, never rewritten in place
    assert sorted(os.listdir(out)) == ["ca.crt", "tls.crt", "tls.key"]  # no temp files left


def test_write_bundle_into_a_file_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CertError, match="cannot create directory"):
        write_bundle(generate_bundle("webhook", "tools"), blocker / "tls")


def test_generated_pair_serves_tls_that_the_ca_verifies(tmp_path: Path) -> None:
    bundle = generate_bundle("webhook", "tools")
    write_bundle(bundle, tmp_path)
    with TLSServer(tmp_path / "tls.crt", tmp_path / "tls.key") as server:
        for name in NAMES:
            served = served_cert(server.port, bundle.ca_cert_pem, name)
            assert served == x509.load_pem_x509_certificate(bundle.cert_pem)
        with pytest.raises(Exception, match="certificate verify failed"):
            served_cert(server.port, generate_bundle("webhook", "tools").ca_cert_pem, NAMES[0])
        with pytest.raises(Exception, match=r"Hostname mismatch|doesn't match"):
            served_cert(server.port, bundle.ca_cert_pem, "other.tools.svc")


def test_cross_certificate_lets_old_ca_clients_verify_the_new_chain(tmp_path: Path) -> None:
    old, old_key = create_ca("webhook", "tools")
    new, new_key = create_ca("webhook", "tools")
    cross = cross_sign(new, new_key, old, old_key)
    assert cross.subject == new.subject and cross.public_key() == new.public_key() and signed_by(cross, old)
    leaf, key = issue_serving_cert(new, new_key, "webhook", "tools")
    (tmp_path / "tls.crt").write_bytes(to_pem(leaf, cross))
    (tmp_path / "tls.key").write_bytes(key_to_pem(key))
    with TLSServer(tmp_path / "tls.crt", tmp_path / "tls.key") as server:
        for trusted in (to_pem(old), to_pem(new), to_pem(old, new)):
            assert served_cert(server.port, trusted, "webhook.tools.svc") == leaf


def test_service_names_order_and_dedup() -> None:
    assert service_names("webhook", "tools", ["webhook", "x"]) == [*NAMES, "x"]
