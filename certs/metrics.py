"""The certificates' metrics: the serving pair's hot reload and the in-cluster manager's passes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class CertMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.expiry = Gauge(
            "mcp_admission_certificate_expiry_timestamp_seconds",
            "When the certificate in use expires (Unix time): the serving certificate and its CA.",
            ["cert"],
            registry=registry,
        )
        self.reload_errors = Counter(
            "mcp_admission_cert_reload_errors",
            "Certificate reloads refused because the new files were unusable; the old pair stays in use.",
            registry=registry,
        )
        self.reloads = Counter(
            "mcp_admission_cert_reloads",
            "Certificate pairs loaded into the TLS context after a change of the files.",
            registry=registry,
        )
        self.rotations = Counter(
            "mcp_admission_cert_rotations",
            "Certificates the in-cluster manager issued: a new CA, or a new serving certificate.",
            ["cert"],
            registry=registry,
        )
        self.ensure_errors = Counter(
            "mcp_admission_cert_ensure_errors",
            "Passes of the in-cluster certificate manager that failed (retried at the next pass).",
            registry=registry,
        )
