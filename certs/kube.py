"""Thin helpers over the kubernetes client: objects as plain JSON dicts, 404/409 told apart.

Plain dicts, not the client's models: a read-modify-write through the models would drop any field the
client does not know, and the base64 fields (Secret data, caBundle) stay exactly as the apiserver sent them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from kubernetes.client import ApiException

from certs.pem import CertError

JSON = dict[str, Any]
NOT_FOUND = 404
CONFLICT = 409


def read(call: Callable[..., Any], *args: Any, **kwargs: Any) -> JSON | None:
    """The object `call` returns, as JSON; None when it does not exist."""
    try:
        response = call(*args, _preload_content=False, **kwargs)
    except ApiException as exc:
        if exc.status == NOT_FOUND:
            return None
        raise
    result: JSON = json.loads(response.data)
    return result


def write(call: Callable[..., Any], *args: Any, **kwargs: Any) -> JSON:
    response = call(*args, _preload_content=False, **kwargs)
    result: JSON = json.loads(response.data)
    return result


def is_status(exc: BaseException, status: int) -> bool:
    return isinstance(exc, ApiException) and exc.status == status


def describe_api_error(exc: ApiException) -> str:
    """The apiserver's own message for a failed call, one line."""
    try:
        message = json.loads(exc.body or "")["message"]
    except (ValueError, KeyError, TypeError):
        message = exc.reason or "no message"
    return f"{exc.status} {message}"


def secret_bytes(secret: JSON, key: str, what: str, *, optional: bool = False) -> bytes:
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
