"""The webhook's patch rebased onto the manifest as written: what --write-mutated adds to a file.

The policies patch the apiserver-defaulted object, so an operation may target a value that only
defaulting put there (replace /spec/sessionAffinity on a Service that names none), or sit under a
parent the manifest lacks. Against the manifest, the first becomes an add of exactly that value and
the second adds the missing parent holding only the patched member. So nothing that defaulting alone
added is ever written (no `type: ClusterIP`, no `replicas: 1` that would pin an HPA's count), and
defaulting what is written gives back the object the webhook would store.
"""

from __future__ import annotations

from collections.abc import Sequence

from mcp_admission.policies import JSON, PatchOp, apply, pointer_tokens, set_value


def rebase(manifest: JSON, patch: Sequence[PatchOp]) -> tuple[PatchOp, ...]:
    """Operations that apply to `manifest` itself; ValueError for one that cannot be rebased."""
    rebased: list[PatchOp] = []
    for op in patch:
        tokens = pointer_tokens(op["path"])
        # The policies only set object members (engine/patch.py); anything else has no meaning here.
        if op["op"] not in ("add", "replace") or not tokens or _through_a_list(manifest, tokens):
            raise ValueError(f"{op['op']} {op['path']} cannot be written into the manifest")
        ops = set_value(manifest, tuple(tokens), op["value"])
        manifest = apply(manifest, ops)
        rebased.extend(ops)
    return tuple(rebased)


def _through_a_list(document: JSON, tokens: list[str]) -> bool:
    node = document
    for token in tokens[:-1]:
        if isinstance(node, list):
            return True
        node = node.get(token) if isinstance(node, dict) else None
    return isinstance(node, list)
