"""The certificate metrics, on the default prometheus registry (the webhook's metrics port serves it)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CERT_EXPIRY = Gauge(
    "mcp_admission_certificate_expiry_timestamp_seconds",
    "When the certificate in use expires (Unix time): the serving certificate and the CA that signed it.",
    ["cert"],
)
RELOAD_ERRORS = Counter(
    "mcp_admission_cert_reload_errors_total",
    "Certificate reloads refused because the new files were unusable; the old pair stays in use.",
)
RELOADS = Counter(
    "mcp_admission_cert_reloads_total",
    "Certificate pairs loaded into the TLS context after a change of the files.",
)
ROTATIONS = Counter(
    "mcp_admission_cert_rotations_total",
    "Certificates the in-cluster manager issued: a new CA, or a new serving certificate.",
    ["cert"],
)
ENSURE_ERRORS = Counter(
    "mcp_admission_cert_ensure_errors_total",
    "Passes of the in-cluster certificate manager that failed (retried at the next pass).",
)
