"""Making certificate material: a CA, a serving certificate it signs, a cross-certificate for CA rollover.

Offline and pure (no cluster); `write_bundle` is the only function that touches the disk.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mcp_admission.certs.pem import CertError, PrivateKey, ca_expired_message, expired, key_to_pem, to_pem
from mcp_admission.certs.settings import CertSettings

KeyType = Literal["ecdsa", "rsa"]
KEY_TYPES: tuple[KeyType, ...] = ("ecdsa", "rsa")
MIN_RSA_BITS = 2048

# Defaults: see certs/settings.py for why these numbers.
CA_VALIDITY = timedelta(days=3650)
CERT_VALIDITY = timedelta(days=180)
# notBefore is set this far in the past so a node whose clock lags a little still accepts a fresh cert.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Bundle:
    ca_cert_pem: bytes
    ca_key_pem: bytes
    cert_pem: bytes  # the serving certificate (and, during a CA rollover, the cross-certificate after it)
    key_pem: bytes

    @classmethod
    def of(cls, ca: x509.Certificate, ca_key: PrivateKey, cert: x509.Certificate, key: PrivateKey) -> Bundle:
        """The bundle of a CA and a serving pair, as PEM."""
        return cls(to_pem(ca), key_to_pem(ca_key), to_pem(cert), key_to_pem(key))


def service_names(service: str, namespace: str, extra_sans: Sequence[str] = ()) -> list[str]:
    """The names the apiserver may use to reach the Service, then the extra ones, deduplicated."""
    base = [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]
    return list(dict.fromkeys([*base, *extra_sans]))


def normal_name(name: str) -> str:
    """A name as a certificate's SAN gives it back: IP addresses in their canonical text form."""
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


def new_private_key(key_type: KeyType = "ecdsa", rsa_bits: int = MIN_RSA_BITS) -> PrivateKey:
    if key_type == "ecdsa":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        if rsa_bits < MIN_RSA_BITS:
            raise CertError(f"RSA keys need at least {MIN_RSA_BITS} bits, not {rsa_bits}")
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    raise CertError(f"unknown key type {key_type!r}; use one of {', '.join(KEY_TYPES)}")


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        pass
    if not name or len(name) > 253 or any(c.isspace() or c in "/:@" for c in name):
        raise CertError(f"subject alternative name {name!r} is neither a DNS name nor an IP address")
    return x509.DNSName(name)


def _check_validity(validity: timedelta, what: str) -> None:
    if validity <= timedelta(0):
        raise CertError(f"{what} validity must be positive, not {validity}")


def _ski(key: PrivateKey) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key())


_KEY_USAGES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)


def _key_usage(**allowed: bool) -> x509.KeyUsage:
    """KeyUsage with the given bits; every other one off (x509.KeyUsage wants all nine)."""
    return x509.KeyUsage(**{**dict.fromkeys(_KEY_USAGES, False), **allowed})


def _ca_extensions(builder: x509.CertificateBuilder, key: PrivateKey) -> x509.CertificateBuilder:
    # pathLen 1, not 0: a rollover chains leaf → new CA (cross-signed) → old CA, one CA below the root.
    return (
        builder.add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(
            _key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True),
            critical=True,
        )
        .add_extension(_ski(key), critical=False)
    )


def create_ca(
    service: str,
    namespace: str,
    *,
    key_type: KeyType = "ecdsa",
    rsa_bits: int = MIN_RSA_BITS,
    validity: timedelta = CA_VALIDITY,
    now: datetime | None = None,
) -> tuple[x509.Certificate, PrivateKey]:
    """A self-signed CA whose name is unique, so an old and a new CA are never confused by name."""
    _check_validity(validity, "CA")
    now = now or datetime.now(UTC)
    key = new_private_key(key_type, rsa_bits)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mcp-admission"),
            x509.NameAttribute(
                NameOID.COMMON_NAME,
                f"mcp-admission CA {namespace}/{service} {now:%Y%m%d}-{secrets.token_hex(4)}"[:64],
            ),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + validity)
    )
    return _ca_extensions(builder, key).sign(key, hashes.SHA256()), key


def cross_sign(
    new_ca: x509.Certificate,
    new_key: PrivateKey,
    old_ca: x509.Certificate,
    old_key: PrivateKey,
    now: datetime | None = None,
) -> x509.Certificate:
    """The new CA's name and key, signed by the old CA: clients that trust only the old CA can still
    verify serving certificates signed by the new one (served as leaf + this certificate)."""
    now = now or datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(new_ca.subject)
        .issuer_name(old_ca.subject)
        .public_key(new_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(min(old_ca.not_valid_after_utc, new_ca.not_valid_after_utc))
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(old_key.public_key()), critical=False
        )
    )
    return _ca_extensions(builder, new_key).sign(old_key, hashes.SHA256())


def issue_serving_cert(
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    service: str,
    namespace: str,
    *,
    extra_sans: Sequence[str] = (),
    key_type: KeyType = "ecdsa",
    rsa_bits: int = MIN_RSA_BITS,
    validity: timedelta = CERT_VALIDITY,
    now: datetime | None = None,
) -> tuple[x509.Certificate, PrivateKey]:
    """A serving certificate for the Service's names, signed by the CA; it never outlives the CA."""
    _check_validity(validity, "serving certificate")
    now = now or datetime.now(UTC)
    if expired(ca_cert, now):
        raise CertError(ca_expired_message(ca_cert))
    names = service_names(service, namespace, extra_sans)
    key = new_private_key(key_type, rsa_bits)
    common_name = f"{service}.{namespace}.svc"
    # The CN is informational only (clients check the SANs); it is limited to 64 characters.
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if len(common_name) <= 64 else []
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(min(now + validity, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            # key_encipherment: RSA key exchange (TLS 1.2)
            _key_usage(digital_signature=True, key_encipherment=isinstance(key, rsa.RSAPrivateKey)),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=not subject)
        .add_extension(_ski(key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    return builder.sign(ca_key, hashes.SHA256()), key


def generate_bundle(
    service: str,
    namespace: str,
    *,
    extra_sans: Sequence[str] = (),
    key_type: KeyType = "ecdsa",
    rsa_bits: int = MIN_RSA_BITS,
    ca_validity: timedelta = CA_VALIDITY,
    cert_validity: timedelta = CERT_VALIDITY,
) -> Bundle:
    """A new CA and a serving certificate it signed for `service` in `namespace`."""
    now = datetime.now(UTC)
    ca, ca_key = create_ca(
        service, namespace, key_type=key_type, rsa_bits=rsa_bits, validity=ca_validity, now=now
    )
    cert, key = issue_serving_cert(
        ca,
        ca_key,
        service,
        namespace,
        extra_sans=extra_sans,
        key_type=key_type,
        rsa_bits=rsa_bits,
        validity=cert_validity,
        now=now,
    )
    return Bundle.of(ca, ca_key, cert, key)


def _write_temp(directory: Path, name: str, data: bytes, mode: int) -> Path:
    fd, temp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(temp)
        raise
    return Path(temp)


def write_files(directory: str | os.PathLike[str], files: dict[str, tuple[bytes, int]]) -> None:
    """Write name → (data, mode) so that each file is either old or complete: every temp file is
    written and synced before the first rename."""
    target = Path(directory)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CertError(f"{target}: cannot create directory: {exc.strerror}") from None
    written: list[tuple[Path, Path]] = []
    try:
        for name, (data, mode) in files.items():
            written.append((_write_temp(target, name, data, mode), target / name))
        for temp, final in written:
            os.replace(temp, final)
    except OSError as exc:
        for temp, _ in written:
            temp.unlink(missing_ok=True)
        raise CertError(f"{target}: cannot write certificates: {exc.strerror or exc}") from None


def write_bundle(bundle: Bundle, directory: str | os.PathLike[str]) -> None:
    """ca.crt, tls.crt (0644) and tls.key (0600) in `directory`, each replaced atomically.

    The CA key is not written here: whoever needs it (`certs generate --ca-key-out`) asks for it.
    """
    write_files(
        directory,
        {
            "ca.crt": (bundle.ca_cert_pem, 0o644),
            "tls.crt": (bundle.cert_pem, 0o644),
            "tls.key": (bundle.key_pem, 0o600),
        },
    )


def ca_for(settings: CertSettings, *, now: datetime | None = None) -> tuple[x509.Certificate, PrivateKey]:
    """A new CA as the `certs:` settings describe it."""
    return create_ca(
        settings.service,
        settings.namespace,
        key_type=settings.key_type,
        rsa_bits=settings.rsa_bits,
        validity=timedelta(days=settings.ca_validity_days),
        now=now,
    )


def issue_for(
    settings: CertSettings, ca_cert: x509.Certificate, ca_key: PrivateKey, *, now: datetime | None = None
) -> tuple[x509.Certificate, PrivateKey]:
    """The serving certificate the `certs:` settings describe, signed by the given CA."""
    return issue_serving_cert(
        ca_cert,
        ca_key,
        settings.service,
        settings.namespace,
        extra_sans=settings.extra_sans,
        key_type=settings.key_type,
        rsa_bits=settings.rsa_bits,
        validity=timedelta(days=settings.validity_days),
        now=now,
    )


def bundle_for(settings: CertSettings) -> Bundle:
    """A new CA and the serving certificate the `certs:` settings describe."""
    now = datetime.now(UTC)
    ca, ca_key = ca_for(settings, now=now)
    return Bundle.of(ca, ca_key, *issue_for(settings, ca, ca_key, now=now))
