"""A Secret's `data`, as the apiserver sends it (base64 values): decode a key, encode a value."""

from __future__ import annotations

import base64
from typing import Any

from mcp_admission.certs.pem import CertError


def secret_bytes(secret: dict[str, Any], key: str, what: str, *, optional: bool = False) -> bytes:
    """The decoded value of `key`; a missing or empty one is an error, or b"" when `optional`."""
    value = (secret.get("data") or {}).get(key)
    if not value:
        if optional:
            return b""
        raise CertError(f"{what}: has no {key}")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise CertError(f"{what}: {key} is not valid base64") from None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
