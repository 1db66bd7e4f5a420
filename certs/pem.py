"""Reading and checking PEM material: every problem becomes a one-line CertError, never a traceback."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class CertError(ValueError):
    """Certificate material that cannot be used; the message is one line, for the user as it is."""


def load_certs(data: bytes, what: str) -> list[x509.Certificate]:
    """Every certificate in `data` (a PEM chain or bundle), in order; at least one."""
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise CertError(f"{what}: not a valid PEM certificate") from None
    return certs


def load_key(data: bytes, what: str) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise CertError(f"{what}: the private key is encrypted; give an unencrypted key") from None
    except (ValueError, UnsupportedAlgorithm):
        raise CertError(f"{what}: not a valid PEM private key") from None
    if not isinstance(key, PrivateKey):
        raise CertError(f"{what}: unsupported key type {type(key).__name__}; use ECDSA or RSA")
    return key


def key_matches(cert: x509.Certificate, key: PrivateKey) -> bool:
    return cert.public_key() == key.public_key()


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether `issuer`'s key made `cert`'s signature (and names agree)."""
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def is_ca(cert: x509.Certificate) -> bool:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return constraints.ca


def describe(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "(empty subject)"


def expired(cert: x509.Certificate, now: datetime | None = None) -> bool:
    return (now or datetime.now(UTC)) >= cert.not_valid_after_utc


def ca_expired_message(ca: x509.Certificate) -> str:
    return f"the CA certificate {describe(ca)} expired on {ca.not_valid_after_utc:%Y-%m-%d}"


def load_ca(
    cert_pem: bytes, key_pem: bytes, what: str, *, allow_expired: bool = False
) -> tuple[x509.Certificate, PrivateKey]:
    """A CA certificate and its key, checked: parses, is a CA, key matches, not expired (unless allowed)."""
    ca = load_certs(cert_pem, f"{what} certificate")[0]
    key = load_key(key_pem, f"{what} key")
    if not is_ca(ca):
        raise CertError(f"{what}: {describe(ca)} is not a CA certificate (basicConstraints CA:FALSE)")
    if not key_matches(ca, key):
        raise CertError(f"{what}: the private key does not match the CA certificate {describe(ca)}")
    if not allow_expired and expired(ca):
        raise CertError(f"{what}: {ca_expired_message(ca)}")
    return ca, key


def check_pair(cert_pem: bytes, key_pem: bytes, what: str) -> tuple[list[x509.Certificate], PrivateKey]:
    """A certificate chain and its key: both parse and the key belongs to the first certificate."""
    chain = load_certs(cert_pem, f"{what} certificate")
    key = load_key(key_pem, f"{what} key")
    if not key_matches(chain[0], key):
        raise CertError(f"{what}: the private key does not match the certificate {describe(chain[0])}")
    return chain, key


def issuing_ca(chain: Sequence[x509.Certificate], cas: Sequence[x509.Certificate]) -> x509.Certificate | None:
    """The CA of `cas` that signed the leaf, directly or through one certificate of the chain."""
    for ca in cas:
        if signed_by(chain[0], ca):
            return ca
    for intermediate in chain[1:]:
        if signed_by(chain[0], intermediate):
            for ca in cas:
                if signed_by(intermediate, ca):
                    return ca
    return None


def check_signed(chain: Sequence[x509.Certificate], ca_pem: bytes, what: str) -> x509.Certificate:
    """The CA of the bundle `ca_pem` that signed the chain's leaf; CertError when none did or it expired."""
    cas = load_certs(ca_pem, f"{what} CA bundle")
    ca = issuing_ca(chain, cas)
    if ca is None:
        leaf = chain[0]
        raise CertError(
            f"{what}: the certificate {describe(leaf)} is signed by another CA"
            f" ({leaf.issuer.rfc4514_string()}), not by the given CA bundle"
        )
    if expired(ca):
        raise CertError(f"{what}: {ca_expired_message(ca)}")
    return ca


def to_pem(*certs: x509.Certificate) -> bytes:
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certs)


def key_to_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def cert_names(cert: x509.Certificate) -> set[str]:
    """The DNS names and IP addresses (as text) of the certificate's subjectAltName."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {
        *sans.get_values_for_type(x509.DNSName),
        *(str(ip) for ip in sans.get_values_for_type(x509.IPAddress)),
    }
