"""Hot reload of the serving certificate: watch the files, validate, swap them into the live SSLContext.

A mounted Secret changes through a symlink swap (`..data` → a new timestamped directory), so the files are
compared by content, read through the links, not by the links' own stat. New handshakes use the new
pair; open connections keep theirs, so nothing is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import tempfile
from pathlib import Path

from cryptography import x509

from mcp_admission.certs.metrics import CertMetrics
from mcp_admission.certs.pem import CertError, check_pair, issuing_ca, load_certs

log = logging.getLogger(__name__)

# What a poll saw: the two files' bytes, or why they could not be read.
_Snapshot = tuple[bytes, bytes] | str


class CertReloader:
    def __init__(
        self,
        context: ssl.SSLContext,
        cert_file: str,
        key_file: str,
        *,
        metrics: CertMetrics,
        interval: float = 10.0,
    ) -> None:
        self.context = context
        self.metrics = metrics
        self.cert_file = cert_file
        self.key_file = key_file
        # ca.crt beside the certificate, when there, only feeds the CA expiry gauge.
        self.ca_file = str(Path(cert_file).with_name("ca.crt"))
        self.interval = interval
        self.loaded = False
        self._seen: _Snapshot | None = None

    def _snapshot(self) -> _Snapshot:
        try:
            return Path(self.cert_file).read_bytes(), Path(self.key_file).read_bytes()
        except OSError as exc:
            return f"cannot read {exc.filename}: {exc.strerror}"

    def reload(self, snapshot: _Snapshot | None = None) -> bool:
        """Load the files into the context if they are a valid pair; True when the new pair is in use.

        `snapshot`: the files as just read (default: read them now). On any problem the pair in use
        stays, the reason is logged and counted.
        """
        if snapshot is None:
            snapshot = self._snapshot()
        try:
            try:
                chain = self._validate_and_load(snapshot)
            except CertError:
                # The two files are read one after the other: a swap in between gives a mixed pair.
                # If they changed meanwhile, the second read sees the finished swap.
                retry = self._snapshot()
                if retry == snapshot:
                    raise
                snapshot = retry
                chain = self._validate_and_load(snapshot)
        except CertError as exc:
            self.metrics.reload_errors.inc()
            kept = "keeping the previous pair" if self.loaded else "no certificate loaded"
            log.error("certificate reload refused (%s): %s", kept, exc)
            return False
        finally:
            self._seen = snapshot
        self.loaded = True
        self.metrics.reloads.inc()
        self._record_expiry(chain)
        log.info(
            "serving certificate loaded: %s, expires %s",
            chain[0].subject.rfc4514_string(),
            chain[0].not_valid_after_utc.isoformat(),
        )
        return True

    def _validate_and_load(self, snapshot: _Snapshot) -> list[x509.Certificate]:
        if isinstance(snapshot, str):
            raise CertError(snapshot)
        cert_pem, key_pem = snapshot
        chain, _ = check_pair(cert_pem, key_pem, self.cert_file)
        self._load(cert_pem, key_pem)
        return chain

    def _load(self, cert_pem: bytes, key_pem: bytes) -> None:
        # load_cert_chain only reads paths: hand it private copies of the bytes just validated, so a
        # swap between validation and loading cannot slip an unchecked pair in.
        with tempfile.TemporaryDirectory(prefix="mcp-admission-tls-") as directory:
            cert_path, key_path = os.path.join(directory, "tls.crt"), os.path.join(directory, "tls.key")
            for path, data in ((cert_path, cert_pem), (key_path, key_pem)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
            try:
                self.context.load_cert_chain(cert_path, key_path)
            except ssl.SSLError as exc:
                raise CertError(f"{self.cert_file}: TLS refused the pair: {exc.reason or exc}") from None

    def _record_expiry(self, chain: list[x509.Certificate]) -> None:
        self.metrics.expiry.labels(cert="serving").set(chain[0].not_valid_after_utc.timestamp())
        try:
            cas = load_certs(Path(self.ca_file).read_bytes(), self.ca_file)
        except (OSError, CertError):
            return  # no CA file beside the certificate: nothing to report for the CA
        ca = issuing_ca(chain, cas)
        if ca is None:
            log.warning(
                "%s: the serving certificate is not signed by any CA of %s", self.cert_file, self.ca_file
            )
            return
        self.metrics.expiry.labels(cert="ca").set(ca.not_valid_after_utc.timestamp())

    async def run(self) -> None:
        """Poll every `interval` seconds and reload on change, until cancelled."""
        while True:
            snapshot = self._snapshot()
            if snapshot != self._seen:
                self.reload(snapshot)
            await asyncio.sleep(self.interval)
