"""RFC 6902 operations the apiserver accepts: parents before children, RFC 6901 escaping."""

from __future__ import annotations

from typing import Any

from .model import JSON, PatchOp


def escape(token: str) -> str:
    """One JSON Pointer reference token (RFC 6901): '~' → '~0' first, then '/' → '~1'."""
    return token.replace("~", "~0").replace("/", "~1")


def pointer(*tokens: str) -> str:
    return "".join("/" + escape(t) for t in tokens)


def set_value(document: JSON, tokens: tuple[str, ...], value: Any) -> tuple[PatchOp, ...]:
    """The operation that makes document[tokens...] == value, creating missing parent objects.

    A missing (or non-object) parent is added whole, with the value nested inside it, so the patch
    never addresses a path whose parent does not exist (the apiserver would reject it).
    """
    node = document
    for depth, token in enumerate(tokens[:-1]):
        child = node.get(token) if isinstance(node, dict) else None
        if not isinstance(child, dict):
            nested = value
            for inner in reversed(tokens[depth + 1 :]):
                nested = {inner: nested}
            op = "replace" if isinstance(node, dict) and token in node else "add"
            return ({"op": op, "path": pointer(*tokens[: depth + 1]), "value": nested},)
        node = child
    last = tokens[-1]
    if isinstance(node, dict) and last in node:
        if node[last] == value and type(node[last]) is type(value):
            return ()
        return ({"op": "replace", "path": pointer(*tokens), "value": value},)
    return ({"op": "add", "path": pointer(*tokens), "value": value},)
