"""The `certs:` section of the configuration file.

Defaults, against the two usual yardsticks (Kyverno: CA 1 y, serving 150 d, renewed 15 d before expiry;
Gatekeeper's cert-controller: CA 10 y, serving 1 y, renewed 90 d before, checked every 12 h):

- CA 10 years (as cert-controller). Rotating the CA is the one step that changes what every apiserver
  trusts and needs the overlap; make it rare. Its key never leaves its own Secret.
- Serving certificate 180 days, renewed when a third of its life is left (60 days, a share rather than a
  fixed margin so shorter validities stay safe). Renewal is cheap (hot reload, no caBundle change), and
  60 days of margin survives a long outage of every replica, unlike Kyverno's 15.
- Checked every 12 hours (as cert-controller), and at every start.
- After a CA rotation the old CA stays trusted for 24 hours after the serving Secret was re-signed: far
  more than a mounted Secret needs to reach every pod (kubelet sync ~1-2 min) plus the reload poll.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from mcp_admission.models import Model
from mcp_admission.names import DNS1123_SUBDOMAIN, is_dns1035_label, is_dns1123_label

_NAME_RULES = {
    "service": (is_dns1035_label, "a Service name (DNS-1035 label)"),
    "namespace": (is_dns1123_label, "a namespace name (DNS-1123 label)"),
}
# As a pattern, so that the chart's values.schema.json (derived from this model) checks it too.
SecretName = Annotated[str, Field(min_length=1, max_length=253, pattern=DNS1123_SUBDOMAIN)]


class CertSettings(Model):
    service: str = "mcp-admission"
    namespace: str = "mcp-admission"
    # Serving pair + trusted CA bundle, mounted by the webhook pods (kubernetes.io/tls + ca.crt).
    secret_name: SecretName = "mcp-admission-tls"
    # The CA's own pair: kept apart so the pods that serve never mount the CA key.
    ca_secret_name: SecretName = "mcp-admission-ca"
    # Webhook configurations that get the caBundle: these names, plus every one matching the selector.
    mutating_webhook_configuration: str = "mcp-admission"
    validating_webhook_configuration: str = "mcp-admission"
    webhook_selector: str = "app.kubernetes.io/name=mcp-admission"
    extra_sans: tuple[str, ...] = ()
    key_type: Literal["ecdsa", "rsa"] = "ecdsa"
    rsa_bits: int = Field(default=2048, ge=2048, le=8192)
    ca_validity_days: int = Field(default=3650, ge=1)
    validity_days: int = Field(default=180, ge=1)
    # Renew a certificate (serving or CA) when less than this share of its lifetime is left.
    renew_share: float = Field(default=1 / 3, gt=0, lt=1)
    ca_overlap_seconds: float = Field(default=24 * 3600, ge=0)
    check_interval_seconds: float = Field(default=12 * 3600, gt=0)

    @field_validator("service", "namespace")
    @classmethod
    def _kubernetes_name(cls, value: str, info: ValidationInfo) -> str:
        rule, what = _NAME_RULES[info.field_name or ""]
        if not rule(value):
            raise ValueError(f"must be {what}")
        return value
