"""Would our server-side apply change the live object? Only then do we send it (zero writes at rest).

Two ways it would: a field we declare has another value live (or is missing), or our field manager
still owns a field we no longer declare (apply would remove it). Foreign extras never count: an apply
leaves fields owned by other managers alone.
"""

from __future__ import annotations

import json
from typing import Any

# The associative lists we declare, and their merge keys (core/v1 Service, ObjectMeta).
LIST_KEYS = {"ports": ("port", "protocol"), "ownerReferences": ("uid",)}
Path = tuple[str, ...]


def contained(desired: Any, live: Any) -> bool:
    """Every field of `desired` has the same value in `live`; list items match in any order."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(contained(v, live.get(k)) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(live, list) and all(any(contained(d, item) for item in live) for d in desired)
    return bool(desired == live and type(desired) is type(live))


def _item_key(fields: tuple[str, ...], item: Any) -> str:
    values = item if isinstance(item, dict) else {}
    return json.dumps({f: values.get(f) for f in fields}, sort_keys=True, separators=(",", ":"))


def declared_paths(manifest: Any, prefix: Path = ()) -> set[Path]:
    """The field paths a manifest declares, named as in managedFields (list items by their merge key)."""
    paths: set[Path] = set()
    if not isinstance(manifest, dict):
        return paths
    for key, value in manifest.items():
        path = (*prefix, key)
        paths.add(path)
        if key in LIST_KEYS and isinstance(value, list):
            for item in value:
                item_path = (*path, _item_key(LIST_KEYS[key], item))
                paths.add(item_path)
                paths |= declared_paths(item, item_path)
        else:
            paths |= declared_paths(value, path)
    return paths


def owned_paths(fields_v1: Any, prefix: Path = ()) -> set[Path]:
    """The field paths of a managedFields fieldsV1 set ("f:name", "k:{merge key}"; "." and "v:" skipped)."""
    paths: set[Path] = set()
    if not isinstance(fields_v1, dict):
        return paths
    for key, value in fields_v1.items():
        if key.startswith("f:"):
            token = key[2:]
        elif key.startswith("k:"):
            try:
                token = json.dumps(json.loads(key[2:]), sort_keys=True, separators=(",", ":"))
            except ValueError:
                continue
        else:
            continue
        path = (*prefix, token)
        paths.add(path)
        paths |= owned_paths(value, path)
    return paths


def managed_by(live: dict[str, Any], manager: str) -> set[Path]:
    """What `manager` owns through Apply in the live object."""
    paths: set[Path] = set()
    for entry in live.get("metadata", {}).get("managedFields") or ():
        if isinstance(entry, dict) and entry.get("manager") == manager and entry.get("operation") == "Apply":
            paths |= owned_paths(entry.get("fieldsV1"))
    return paths


def needs_apply(desired: dict[str, Any], live: dict[str, Any] | None, manager: str) -> bool:
    """True when applying `desired` as `manager` would change `live` (None: it does not exist)."""
    # apiVersion and kind are not fields of the object (list items do not even carry them).
    declared = {"metadata": desired["metadata"], "spec": desired["spec"]}
    if live is None or not contained(declared, live):
        return True
    return bool(managed_by(live, manager) - declared_paths(declared))
