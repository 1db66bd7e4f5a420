"""In-cluster certificates: keep a CA and a serving pair in Secrets, renew them, inject the caBundle.

Two Secrets in the product's namespace, both `kubernetes.io/tls`:

- `caSecretName` (default mcp-admission-ca): the CA — tls.crt, tls.key, ca.crt (the CAs to trust: the
  current one, then the previous one during a rotation), cross.crt (the current CA signed by the previous
  one, during a rotation). Only the manager reads it; the pods that serve never mount the CA key.
- `secretName` (default mcp-admission-tls): what the webhook pods mount — tls.crt (serving certificate,
  plus cross.crt during a rotation), tls.key, ca.crt (the same trust bundle).

A CA rotation is an overlap, never a cut: the new CA is added to the trusted bundle and injected first,
the serving certificate is re-signed by the new CA and served with the cross-certificate (so a client that
trusts only the old CA still verifies it), and the old CA leaves the bundle only once the serving Secret
has held a certificate of the new CA for `caOverlapSeconds` (or the old CA has expired).

Every decision is a function of what the two Secrets hold, each write carries the resourceVersion it was
based on, and a 409 Conflict restarts the pass from a fresh read: replicas racing converge on the first
writer's material and never rewrite each other in turn.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from cryptography import x509

from mcp_admission.certs.generate import CLOCK_SKEW, ca_for, cross_sign, issue_for, normal_name, service_names
from mcp_admission.certs.inject import ATTEMPTS, inject_ca_bundle, pause_after_conflict
from mcp_admission.certs.metrics import CertMetrics
from mcp_admission.certs.pem import (
    CertError,
    PrivateKey,
    cert_names,
    check_pair,
    expired,
    is_ca,
    key_to_pem,
    load_ca,
    load_certs,
    signed_by,
    to_pem,
)
from mcp_admission.certs.secret_data import b64, secret_bytes
from mcp_admission.certs.settings import CertSettings
from mcp_admission.kube import JSON, Kube, KubeError
from mcp_admission.logs import ObjectLog

log = logging.getLogger(__name__)

TLS_TYPE = "kubernetes.io/tls"
COMPONENT = "mcp-admission-certs"  # the field manager of its writes (Secrets, caBundle), in managedFields
LABELS = {"app.kubernetes.io/name": "mcp-admission", "app.kubernetes.io/component": "certs"}
RETRY_SECONDS = 60.0  # after a failed pass, try again this soon (or at the normal interval if shorter)


@dataclass(frozen=True)
class CAState:
    cert: x509.Certificate
    key: PrivateKey
    bundle: tuple[x509.Certificate, ...]  # the CAs to trust: the current one first
    cross: x509.Certificate | None  # the current CA signed by the previous one, while both are trusted

    def secret_data(self) -> dict[str, bytes]:
        data = {"tls.crt": to_pem(self.cert), "tls.key": key_to_pem(self.key), "ca.crt": to_pem(*self.bundle)}
        if self.cross is not None:
            data["cross.crt"] = to_pem(self.cross)
        return data


@dataclass(frozen=True)
class EnsureResult:
    actions: tuple[str, ...]  # what this pass changed, one line each; empty when all was in order
    ca_expires: datetime
    serving_expires: datetime
    retire_at: datetime | None  # when the previous CA may leave the bundle (a pass is due then)

    @property
    def changed(self) -> bool:
        return bool(self.actions)


class _Conflict(Exception):
    """Someone else wrote one of our objects in between: start the pass again from a fresh read."""


def _days(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 86400:.1f}"


def _retire_at(leaf: x509.Certificate, ca: CAState, overlap_seconds: float) -> datetime | None:
    """When a CA overlap may end: once the serving Secret has held a certificate of the current CA for
    caOverlapSeconds (time for every pod to see the Secret change and reload it). None: not yet known."""
    if len(ca.bundle) < 2 or not signed_by(leaf, ca.cert):
        return None
    return leaf.not_valid_before_utc + CLOCK_SKEW + timedelta(seconds=overlap_seconds)


def _overlap_end(
    ca: CAState, leaf: x509.Certificate | None, overlap_seconds: float, now: datetime
) -> str | None:
    """Why the previous CA leaves the bundle in this pass; None when it stays (or there is none)."""
    if len(ca.bundle) < 2:
        return None
    if all(expired(c, now) for c in ca.bundle[1:]):
        return "dropped the previous CA: it expired"
    retire_at = None if leaf is None else _retire_at(leaf, ca, overlap_seconds)
    if retire_at is not None and now >= retire_at:
        return "ended the CA overlap: dropped the previous CA"
    return None


def _due(cert: x509.Certificate, share: float, now: datetime) -> bool:
    """Whether less than `share` of the certificate's life is left."""
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    return cert.not_valid_after_utc - now <= life * share


class CertManager:
    def __init__(self, settings: CertSettings, kube: Kube, metrics: CertMetrics) -> None:
        self.settings = settings
        self.kube = kube
        self.metrics = metrics
        self._secrets = f"/api/v1/namespaces/{settings.namespace}/secrets"

    # -- reading ---------------------------------------------------------------------------------------

    def _where(self, name: str) -> str:
        return f"Secret {self.settings.namespace}/{name}"

    def _read_secret(self, name: str) -> JSON | None:
        secret = self.kube.get(f"{self._secrets}/{name}")
        if secret is not None and secret.get("type") != TLS_TYPE:
            raise CertError(
                f"{self._where(name)}: type {secret.get('type')} is not {TLS_TYPE}; delete it and run again"
            )
        return secret

    def _parse_ca(self, secret: JSON) -> CAState:
        what = self._where(self.settings.ca_secret_name)
        cert, key = load_ca(
            secret_bytes(secret, "tls.crt", what),
            secret_bytes(secret, "tls.key", what),
            what,
            allow_expired=True,
        )
        ca_pem = secret_bytes(secret, "ca.crt", what, optional=True)
        others = [c for c in load_certs(ca_pem, f"{what} ca.crt") if c != cert] if ca_pem else []
        cross_pem = secret_bytes(secret, "cross.crt", what, optional=True)
        cross = load_certs(cross_pem, f"{what} cross.crt")[0] if cross_pem else None
        # Only a previous CA whose cross-certificate we hold stays; anything else in ca.crt is not ours.
        previous = [c for c in others if is_ca(c) and cross is not None and signed_by(cross, c)]
        return CAState(cert, key, (cert, *previous[:1]), cross if previous else None)

    def _parse_serving(self, secret: JSON | None) -> tuple[list[x509.Certificate], PrivateKey] | str:
        """The serving chain and key, or why there is none usable."""
        what = self._where(self.settings.secret_name)
        if secret is None:
            return f"{what}: missing"
        try:
            return check_pair(
                secret_bytes(secret, "tls.crt", what), secret_bytes(secret, "tls.key", what), what
            )
        except CertError as exc:
            return str(exc)

    # -- deciding ----------------------------------------------------------------------------------------

    def _new_ca(self, now: datetime) -> tuple[x509.Certificate, PrivateKey]:
        self.metrics.rotations.labels(cert="ca").inc()
        return ca_for(self.settings, now=now)

    def _next_ca(
        self, ca: CAState, serving: tuple[list[x509.Certificate], PrivateKey] | str, now: datetime
    ) -> tuple[CAState, str] | None:
        """The CA state this pass should write, and why; None when the current one stays as it is."""
        share, overlap = self.settings.renew_share, self.settings.ca_overlap_seconds
        if expired(ca.cert, now):
            cert, key = self._new_ca(now)
            return CAState(cert, key, (cert,), None), (
                f"replaced the CA, expired on {ca.cert.not_valid_after_utc:%Y-%m-%d} (no overlap possible)"
            )
        if _due(ca.cert, share, now):
            cert, key = self._new_ca(now)
            cross = cross_sign(cert, key, ca.cert, ca.key, now)
            left = _days(ca.cert.not_valid_after_utc - now)
            return CAState(cert, key, (cert, ca.cert), cross), (
                f"rotated the CA ({left} days were left); the old CA stays trusted during the overlap"
            )
        ended = _overlap_end(ca, None if isinstance(serving, str) else serving[0][0], overlap, now)
        return None if ended is None else (replace(ca, bundle=(ca.cert,), cross=None), ended)

    def _serving_problem(self, chain: list[x509.Certificate], ca: CAState, now: datetime) -> str | None:
        leaf = chain[0]
        s = self.settings
        if not signed_by(leaf, ca.cert):
            return "it is not signed by the current CA"
        if cert_names(leaf) != {normal_name(n) for n in service_names(s.service, s.namespace, s.extra_sans)}:
            return "its names do not match the Service"
        if expired(leaf, now) or _due(leaf, s.renew_share, now):
            return f"{_days(leaf.not_valid_after_utc - now)} days were left"
        return None

    def _issue(self, ca: CAState, now: datetime) -> tuple[x509.Certificate, PrivateKey]:
        self.metrics.rotations.labels(cert="serving").inc()
        return issue_for(self.settings, ca.cert, ca.key, now=now)

    # -- writing -----------------------------------------------------------------------------------------

    def _secret_body(self, name: str, data: dict[str, bytes], existing: JSON | None) -> JSON:
        body: JSON = existing or {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": self.settings.namespace, "labels": LABELS},
            "type": TLS_TYPE,
        }
        return {**body, "data": {key: b64(value) for key, value in data.items()}}

    def _write(self, name: str, body: JSON, create: bool) -> JSON:
        """Create, or replace with the resourceVersion in `body`; _Conflict when another writer was first."""
        try:
            if create:
                return self.kube.request("POST", self._secrets, body=body)
            return self.kube.request("PUT", f"{self._secrets}/{name}", body=body)
        except KubeError as exc:
            if exc.status == 409:
                raise _Conflict(name) from None
            raise

    def _save(self, name: str, data: dict[str, bytes], existing: JSON | None) -> bool:
        """Make the Secret hold `data`; False when it already did (nothing written)."""
        body = self._secret_body(name, data, existing)
        if existing is not None and existing.get("data") == body["data"]:
            return False
        self._write(name, body, create=existing is None)
        return True

    def _create_ca_secret(self, now: datetime, actions: list[str]) -> JSON:
        """A new CA Secret; if another replica created one first (409 AlreadyExists), theirs."""
        name = self.settings.ca_secret_name
        cert, key = self._new_ca(now)
        body = self._secret_body(name, CAState(cert, key, (cert,), None).secret_data(), None)
        try:
            created = self._write(name, body, create=True)
        except _Conflict:
            theirs = self._read_secret(name)
            if theirs is None:
                raise
            return theirs
        actions.append(f"created {self._where(name)} with a new CA")
        return created

    def _pass(self, actions: list[str]) -> EnsureResult:
        """One pass; appends what it changed to `actions` as it goes (kept if a later step conflicts)."""
        s = self.settings
        now = datetime.now(UTC)
        ca_secret = self._read_secret(s.ca_secret_name) or self._create_ca_secret(now, actions)
        ca = self._parse_ca(ca_secret)
        serving_secret = self._read_secret(s.secret_name)
        serving = self._parse_serving(serving_secret)

        change = self._next_ca(ca, serving, now)
        if change is not None:
            ca, reason = change
            self._save(s.ca_secret_name, ca.secret_data(), ca_secret)
            actions.append(reason)

        # Trust first, then the certificate that needs it.
        actions.extend(
            inject_ca_bundle(
                self.kube,
                to_pem(*ca.bundle),
                mutating=s.mutating_webhook_configuration,
                validating=s.validating_webhook_configuration,
                selector=s.webhook_selector,
            )
        )

        problem = serving if isinstance(serving, str) else self._serving_problem(serving[0], ca, now)
        if problem is None and not isinstance(serving, str):
            leaf, key = serving[0][0], serving[1]
        else:
            leaf, key = self._issue(ca, now)
        chain = (leaf, ca.cross) if ca.cross is not None else (leaf,)
        data = {"tls.crt": to_pem(*chain), "tls.key": key_to_pem(key), "ca.crt": to_pem(*ca.bundle)}
        saved = self._save(s.secret_name, data, serving_secret)
        if serving_secret is None:
            actions.append(f"created {self._where(s.secret_name)} with a new serving certificate")
        elif problem is not None:
            actions.append(f"issued a new serving certificate: {problem}")
        elif saved:
            actions.append(f"updated {self._where(s.secret_name)}: CA bundle and chain")
        return EnsureResult(
            tuple(actions),
            ca.cert.not_valid_after_utc,
            leaf.not_valid_after_utc,
            _retire_at(leaf, ca, s.ca_overlap_seconds),
        )

    # -- entry points ------------------------------------------------------------------------------------

    def ensure_once(self) -> EnsureResult:
        """One pass: create what is missing, renew what is due, inject the caBundle.

        Raises CertError (one line) for anything it cannot do; safe to run from several replicas at once.
        """
        actions: list[str] = []
        for attempt in range(ATTEMPTS):
            if attempt:
                pause_after_conflict(attempt)
            try:
                return self._pass(actions)
            except _Conflict as exc:
                secret = ObjectLog(log, "Secret", self.settings.namespace, str(exc))
                secret.info("changed while writing it; starting the pass again")
            except KubeError as exc:
                if not exc.status:  # no answer at all
                    raise CertError(f"cannot reach the kubernetes API: {exc}") from None
                raise CertError(f"kubernetes API: {exc}") from None
        raise CertError(
            f"Secrets in {self.settings.namespace} kept changing under {ATTEMPTS} passes; giving up"
        )

    async def run(self) -> None:
        """ensure_once now, then every checkIntervalSeconds (sooner when an overlap ends); cancel to stop."""
        interval = self.settings.check_interval_seconds
        while True:
            delay = interval
            try:
                result = await asyncio.to_thread(self.ensure_once)
            except CertError as exc:
                self.metrics.ensure_errors.inc()
                log.error(
                    "certificate pass failed (retrying in %.0f s): %s", min(interval, RETRY_SECONDS), exc
                )
                delay = min(interval, RETRY_SECONDS)
            else:
                for action in result.actions:
                    log.info("certificates: %s", action)
                if result.retire_at is not None:
                    delay = min(delay, max(1.0, (result.retire_at - datetime.now(UTC)).total_seconds()))
            await asyncio.sleep(delay)
