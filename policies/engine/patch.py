"""RFC 6902 operations the apiserver accepts: parents before children, RFC 6901 escaping."""

from __future__ import annotations

from typing import Any

import jsonpatch

from mcp_admission.policies.engine.model import JSON, PatchOp


def escape(token: str) -> str:
    """One JSON Pointer reference token (RFC 6901): '~' → '~0' first, then '/' → '~1'."""
    return token.replace("~", "~0").replace("/", "~1")


def pointer(*tokens: str) -> str:
    """The JSON Pointer (RFC 6901) of `tokens`; "" (the whole document) for none."""
    return "".join("/" + escape(t) for t in tokens)


def pointer_tokens(path: str) -> list[str]:
    """The unescaped reference tokens of a JSON Pointer: the inverse of `pointer`."""
    return [t.replace("~1", "/").replace("~0", "~") for t in path.split("/")[1:]]


def set_members(document: JSON, parent: tuple[str, ...], members: dict[str, Any]) -> tuple[PatchOp, ...]:
    """The operations that make document[parent...][key] == value for each member, creating missing
    parent objects; none for a member that already has its value.

    A missing (or non-object) parent is added whole, with the members nested inside it, so the patch
    never addresses a path whose parent does not exist (the apiserver would reject it).
    """
    if not members:  # nothing to set: not even a missing parent to add
        return ()
    node = document
    for depth, token in enumerate(parent):
        child = node.get(token) if isinstance(node, dict) else None
        if not isinstance(child, dict):
            nested = dict(members)
            for inner in reversed(parent[depth + 1 :]):
                nested = {inner: nested}
            op = "replace" if isinstance(node, dict) and token in node else "add"
            return ({"op": op, "path": pointer(*parent[: depth + 1]), "value": nested},)
        node = child
    base = pointer(*parent)
    patch: list[PatchOp] = []
    for key, value in members.items():
        op = "add"
        if isinstance(node, dict) and key in node:
            current = node[key]
            if current == value and type(current) is type(value):
                continue
            op = "replace"
        patch.append({"op": op, "path": f"{base}/{escape(key)}", "value": value})
    return tuple(patch)


def set_value(document: JSON, tokens: tuple[str, ...], value: Any) -> tuple[PatchOp, ...]:
    """The operation that makes document[tokens...] == value (see set_members)."""
    return set_members(document, tokens[:-1], {tokens[-1]: value})


def apply(document: JSON, patch: tuple[PatchOp, ...]) -> JSON:
    """The document with the policies' patch applied; the input is never modified.

    The policies only emit add/replace of object members (see set_members), so only the objects along
    each path are copied: a deep copy of every patched object made `check` 1.5x slower than parsing.
    Any other operation is left to a full RFC 6902 implementation.
    """
    if any(op["op"] not in ("add", "replace") for op in patch):
        return jsonpatch.apply_patch(document, list(patch))
    for op in patch:
        tokens = pointer_tokens(op["path"])
        if not tokens or not isinstance(document, dict):
            return jsonpatch.apply_patch(document, list(patch))
        root = dict(document)
        node = root
        for token in tokens[:-1]:
            child = node.get(token)
            if not isinstance(child, dict):
                raise jsonpatch.JsonPatchConflict(f"{op['path']}: parent of the target is not an object")
            node[token] = node = dict(child)
        node[tokens[-1]] = op["value"]
        document = root
    return document
