"""One document of a manifest file written again with rebased patches, the way it was written.

YAML goes through ruamel.yaml's round-trip mode: comments, key order, quoting, flow or block style are
kept, and the document's own indentation is detected. What it cannot keep: long lines are never
folded (a folded plain scalar comes back on one line), `~` or `null` come back empty (the same null),
spaces inside `{ }` go. JSON goes through json: key order kept, indented as it was. Either way the
result is read back with the loader's parser (YAML 1.1, as kubectl reads it) and must be the
input with the patches applied, or it is refused: a formatting library never changes what a manifest
means.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

import yaml
from jsonpatch import JsonPatchException

from mcp_admission.policies import JSON, PatchOp, apply, pointer_tokens

from .construct import Loader
from .loader import DOCUMENT_START

# Which object of the document each patch is for, as the indices down through `items`: () the document
# itself, (N,) the Nth of its items, (N, M) the Mth item of that List in the List, ...
ItemPath = tuple[int, ...]
Edits = Mapping[ItemPath, tuple[PatchOp, ...]]

_DOCUMENT_END = re.compile(r"^\.\.\.(?=[ \t\r\n]|$)", re.MULTILINE)
_NO_FOLDING = 1 << 20  # ruamel's line width: long lines stay as they are


class RoundTripError(Exception):
    """The document cannot be written with the patches and its formatting kept; str() says why."""


def rewrite(document: str, parsed: JSON, edits: Edits) -> str:
    """`document` (one section of a file split at DOCUMENT_START) with `edits` applied; `parsed` is
    what the loader read from it."""
    head, body, tail = _sections(document)
    stripped = body.strip()
    try:
        written = (
            _json(body, edits) if stripped.startswith("{") and _is_json(stripped) else _yaml(body, edits)
        )
    except (LookupError, TypeError, JsonPatchException) as exc:  # a path the patch needs is not there
        raise _cannot(exc) from exc
    result = head + written + tail
    try:
        same = yaml.load(result, Loader=Loader) == _patched(parsed, edits)
    except yaml.YAMLError:
        same = False
    if not same:
        raise RoundTripError("writing the patch into this document would change more than the patch")
    return result


def _cannot(exc: Exception) -> RoundTripError:
    problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return RoundTripError(f"cannot write the patch into this document ({problem})")


def _patched(obj: JSON, edits: Edits) -> JSON:
    for path, ops in edits.items():
        obj = _apply_at(obj, path, ops)
    return obj


def _apply_at(obj: JSON, path: ItemPath, ops: tuple[PatchOp, ...]) -> JSON:
    """`obj` with `ops` applied to the item at `path`, copied along the way (the input stays as it is)."""
    if not path:
        return apply(obj, ops)
    items = list(obj["items"])
    items[path[0]] = _apply_at(items[path[0]], path[1:], ops)
    return {**obj, "items": items}


def _sections(document: str) -> tuple[str, str, str]:
    """(the `---` line, the document, from a `...` end marker on): only the middle is re-emitted."""
    head = ""
    if DOCUMENT_START.match(document):
        marker = document[: document.find("\n") + 1 or len(document)]
        if marker[3:].strip().startswith("#") or not marker[3:].strip():
            head, document = marker, document[len(marker) :]
        else:  # content on the marker line (`--- {...}`): it moves to the next line
            head, document = "---" + ("\r\n" if marker.endswith("\r\n") else "\n"), document[3:].lstrip(" \t")
    end = _DOCUMENT_END.search(document)
    if end is None:
        return head, document, ""
    return head, document[: end.start()], document[end.start() :]


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _json(body: str, edits: Edits) -> str:
    stripped = body.strip()
    lines = stripped.splitlines()
    indent = lines[1][: len(lines[1]) - len(lines[1].lstrip(" \t"))] if len(lines) > 1 else None
    compact = indent is None and '": ' not in stripped  # {"a":1,"b":2}, as jq -c writes it
    text = json.dumps(
        _patched(json.loads(stripped), edits),
        indent=indent,
        separators=(",", ":") if compact else None,
        ensure_ascii="\\u" in stripped,
    )
    if "\r\n" in body:
        text = text.replace("\n", "\r\n")
    start = len(body) - len(body.lstrip())
    return body[:start] + text + body[start + len(stripped) :]


def _yaml(body: str, edits: Edits) -> str:
    # Only when a file changes: `check` alone never imports ruamel.
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    crlf = "\r\n" in body
    if crlf:  # ruamel keeps a \r in comments but not in line breaks: work on \n, restore after
        body = body.replace("\r\n", "\n")
    rt = YAML()
    rt.preserve_quotes = True
    rt.width = _NO_FOLDING
    rt.brace_single_entry_mapping_in_flow_sequence = True  # [{port: 80}], not [port: 80]
    mapping, offset = _indentation(body)
    rt.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    out = io.StringIO()
    try:
        data = rt.load(body)
        for path, ops in edits.items():
            target = data
            for index in path:
                target = target["items"][index]
            for op in ops:
                *parents, key = pointer_tokens(op["path"])
                node = target
                for token in parents:
                    node = node[token]
                _set(node, key, op["value"])
        rt.dump(data, out)
    except YAMLError as exc:
        raise _cannot(exc) from exc
    text = out.getvalue()
    if not body.endswith("\n"):
        text = text.rstrip("\n")
    return text.replace("\n", "\r\n") if crlf else text


def _indentation(body: str) -> tuple[int, int]:
    """(mapping indent, sequence dash offset) most used in the document; (2, 0) where it has none."""
    mappings: Counter[int] = Counter()
    offsets: Counter[int] = Counter()
    opener: int | None = None  # column of the key that the previous line left without a value
    for line in body.splitlines():
        content = line.split(" #", 1)[0].rstrip()
        stripped = content.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(content) - len(stripped)
        if opener is not None:
            if (stripped == "-" or stripped.startswith("- ")) and indent >= opener:
                offsets[indent - opener] += 1
            elif indent > opener:
                mappings[indent - opener] += 1
        dashes = len(stripped) - len(stripped.lstrip("- "))  # `- - key:` nests the key that far in
        opener = indent + dashes if content.endswith(":") else None
    mapping = mappings.most_common(1)[0][0] if mappings else 2
    offset = offsets.most_common(1)[0][0] if offsets else 0
    return mapping, offset


def _set(node: Any, key: str, value: JSON) -> None:
    """node[key] = value in ruamel's tree, keeping what can be kept: a mapping replaced by a mapping is
    updated member by member (their comments stay), a quoted string stays quoted the same way."""
    from ruamel.yaml.comments import CommentedMap

    if key not in node:
        _append(node, key, _styled(value, None, _is_flow(node)))
        return
    old = node[key]
    if isinstance(old, CommentedMap) and isinstance(value, dict):
        for gone in [k for k in old if k not in value]:
            del old[gone]
        for member, member_value in value.items():
            _set(old, member, member_value)
        return
    node[key] = _styled(value, old, _is_flow(node))


def _is_flow(node: Any) -> bool:
    return bool(node.fa.flow_style())


def _styled(value: JSON, old: Any, flow: bool) -> Any:
    """A value for ruamel to write: collections in the style of where they go (inside `{...}`: flow)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

    if isinstance(value, str):
        if isinstance(old, DoubleQuotedScalarString | SingleQuotedScalarString):
            return type(old)(value)
        # ruamel writes YAML 1.2: a plain `on` or `yes` would be a boolean to kubectl (YAML 1.1).
        return value if _reads_back(value) else DoubleQuotedScalarString(value)
    styled: Any
    if isinstance(value, dict):
        styled = CommentedMap()
        for k, v in value.items():
            styled[k] = _styled(v, None, flow)
    elif isinstance(value, list):
        styled = CommentedSeq(_styled(v, None, flow) for v in value)
    else:
        return value
    if flow:
        styled.fa.set_flow_style()
    return styled


def _reads_back(value: str) -> bool:
    """Whether the loader reads `value` written plain as that same string."""
    try:
        return bool(yaml.load(value, Loader=Loader) == value)
    except yaml.YAMLError:
        return False


def _append(node: Any, key: str, value: Any) -> None:
    """A new last member. Comment lines after the old last one (often about what follows the
    mapping) stay after the mapping, so after the new member."""
    if _is_flow(node):
        node[key] = value
        return
    following = _detach_following_comments(node)
    node[key] = value
    if following:
        _attach_following_comments(node, following)


def _last_entry(node: Any) -> tuple[Any, Any, Any, int] | None:
    """(container, key or index, value, comment slot) of the deepest last entry of a block collection."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    while node:
        key: Any = next(reversed(node)) if isinstance(node, CommentedMap) else len(node) - 1
        value = node[key]
        if isinstance(value, CommentedMap | CommentedSeq) and value and not _is_flow(value):
            node = value
            continue
        return node, key, value, 2 if isinstance(node, CommentedMap) else 0
    return None


def _is_block_scalar(value: Any) -> bool:
    from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

    return isinstance(value, LiteralScalarString | FoldedScalarString)


def _detach_following_comments(node: Any) -> str:
    last = _last_entry(node)
    if last is None:
        return ""
    container, key, value, slot = last
    entry = container.ca.items.get(key)
    token = entry[slot] if entry else None
    if token is None:
        return ""
    if _is_block_scalar(value):  # the scalar ends its own lines: every comment line follows it
        entry[slot] = None
        following: str = token.value
        return following
    end_of_line, newline, following = token.value.partition("\n")
    token.value = end_of_line + newline
    return following


def _attach_following_comments(node: Any, following: str) -> None:
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    last = _last_entry(node)
    if last is None:  # cannot be: a member was just added
        return
    container, key, value, slot = last
    text = following if _is_block_scalar(value) else "\n" + following
    container.ca.items.setdefault(key, [None, None, None, None])[slot] = CommentToken(text, CommentMark(0))
