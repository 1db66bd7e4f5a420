"""Kubernetes name rules (apimachinery's validation), for settings and policies alike."""

from __future__ import annotations

import re

# Service names are DNS-1035 labels; namespaces DNS-1123 labels; most other names (Secrets, webhook
# configurations) and label key prefixes DNS-1123 subdomains.
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# Also a JSON-schema pattern (settings models, the Helm chart's values.schema.json).
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_DNS1123_SUBDOMAIN = re.compile(DNS1123_SUBDOMAIN)
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")


def is_dns1035_label(value: str) -> bool:
    return len(value) <= 63 and DNS1035_LABEL.fullmatch(value) is not None


def is_dns1123_label(value: str) -> bool:
    return len(value) <= 63 and _DNS1123_LABEL.fullmatch(value) is not None


def is_dns1123_subdomain(value: str) -> bool:
    return len(value) <= 253 and _DNS1123_SUBDOMAIN.fullmatch(value) is not None


def service_name(pattern: str, name: str) -> str | None:
    """`pattern` with `name` for "{name}" (a Service named after its workload); None when that is no
    valid Service name."""
    service = pattern.replace("{name}", name)
    return service if name and is_dns1035_label(service) else None


def check_label_key(key: str) -> str:
    """`key` if it is a valid label key (optional DNS-subdomain prefix, '/', name); else ValueError."""
    prefix, _, name = key.rpartition("/")
    if prefix and not is_dns1123_subdomain(prefix):
        raise ValueError(f"{key!r}: prefix must be a DNS subdomain")
    if len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        raise ValueError(f"{key!r}: not a valid label key")
    return key
