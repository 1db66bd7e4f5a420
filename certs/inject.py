"""caBundle injection into this product's webhook configurations (admissionregistration.k8s.io/v1).

Written only when it differs, as a JSON patch of the caBundle fields that carries the resourceVersion
read: the apiserver answers 409 Conflict when someone wrote in between, and we re-read and decide again.
Every replica computes the same bundle from the same CA Secret, so concurrent injectors converge and
never take turns rewriting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mcp_admission.backoff import pause_before_retry
from mcp_admission.certs.pem import CertError
from mcp_admission.certs.secret_data import b64
from mcp_admission.kube import JSON, JSON_PATCH, Kube, KubeError
from mcp_admission.logs import ObjectLog

log = logging.getLogger(__name__)
ATTEMPTS = 8
_BASE_DELAY = 0.05


def pause_after_conflict(attempt: int) -> None:
    """Before retrying after a conflict: a random pause, growing (up to ~6 s in all)."""
    pause_before_retry(attempt, _BASE_DELAY, ATTEMPTS)


def _patch(config: JSON, bundle: str) -> list[JSON]:
    """JSON patch setting every webhook's caBundle to `bundle`; empty when all already have it."""
    ops: list[JSON] = [
        {"op": "add", "path": f"/webhooks/{index}/clientConfig/caBundle", "value": bundle}
        for index, webhook in enumerate(config.get("webhooks") or [])
        if (webhook.get("clientConfig") or {}).get("caBundle") != bundle
    ]
    if not ops:
        return []
    # A stale resourceVersion turns the write into 409 Conflict (optimistic concurrency).
    version = config["metadata"]["resourceVersion"]
    return [{"op": "replace", "path": "/metadata/resourceVersion", "value": version}, *ops]


@dataclass(frozen=True)
class _Kind:
    name: str
    path: str  # the collection: list it, or append /NAME for one object


_ADMISSION = "/apis/admissionregistration.k8s.io/v1"
_KINDS = (
    _Kind("MutatingWebhookConfiguration", f"{_ADMISSION}/mutatingwebhookconfigurations"),
    _Kind("ValidatingWebhookConfiguration", f"{_ADMISSION}/validatingwebhookconfigurations"),
)


def _inject_one(kube: Kube, kind: _Kind, name: str, bundle: str) -> bool:
    """Make `name`'s caBundles equal `bundle`; True when this call wrote."""
    path = f"{kind.path}/{name}"
    for attempt in range(ATTEMPTS):
        if attempt:
            pause_after_conflict(attempt)
        config = kube.get(path)
        if config is None:
            return False
        ops = _patch(config, bundle)
        if not ops:
            return False
        try:
            kube.request("PATCH", path, body=ops, content_type=JSON_PATCH)
        except KubeError as exc:
            if exc.status == 409:
                ObjectLog(log, kind.name, "", name).info("changed while injecting the caBundle; re-reading")
                continue
            raise
        return True
    raise CertError(f"{kind.name} {name}: still conflicting after {ATTEMPTS} attempts to inject the caBundle")


def inject_ca_bundle(
    kube: Kube, bundle_pem: bytes, *, mutating: str, validating: str, selector: str
) -> list[str]:
    """Set the caBundle of the named configurations and of those matching `selector` (label selector;
    empty: none). Returns one line per configuration written; missing configurations are skipped."""
    bundle = b64(bundle_pem)
    written: list[str] = []
    for kind, named in zip(_KINDS, (mutating, validating), strict=True):
        names = {named} if named else set()
        if selector:
            listing = kube.get(kind.path, [("labelSelector", selector)]) or {}
            names.update(item["metadata"]["name"] for item in listing.get("items") or [])
        for name in sorted(names):
            if _inject_one(kube, kind, name, bundle):
                written.append(f"injected caBundle into {kind.name} {name}")
    return written
