"""Manifests in: each input's documents become objects tagged with the file and line they start on.

YAML is parsed once (construct.py: PyYAML's C loader, a key twice in a mapping refused); each
document's line comes from its composed node, so knowing where an object is costs no second pass.
JSON is read by the same loader (YAML is a superset of JSON). A document that does not parse is
reported and parsing resumes at the next `---`, so one broken document never hides the others.

What a file holds decides how it is read (`mcp-admission check --help` tells users the same):

- an object is a mapping with a non-empty string `apiVersion` and `kind`; a `kind: ...List` with
  `items` stands for its items (a List in a List too), each at its own line;
- a file with no object at all (values.yaml, Chart.yaml, configs, dashboards, an empty file) is
  skipped with a notice, unless a document in it looks like a broken manifest: a mapping with `kind`,
  or with `apiVersion` and `metadata` (Chart.yaml has `apiVersion` without either);
- in a file with objects, every other non-empty document is an input error;
- a file whose YAML breaks on a line with `{{` is a template (Helm, Go): skipped with a notice;
- other YAML that does not parse, and a key twice in one mapping, are input errors.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple, cast

import yaml

from mcp_admission.report.result import InputError, Location

from .construct import DuplicateKeyError, Loader

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"
STDIN_NAME = "stdin"  # how stdin is shown in reports and named under --write-mutated
DOCUMENT_START = re.compile(r"^---(?=[ \t\r\n]|$)", re.MULTILINE)  # also where --write-mutated splits
CHECK_RENDERED = "| mcp-admission check -f -"  # how to check what a template renders to


# NamedTuples, not frozen dataclasses: quicker to define at start-up and to build for every object read
# (bench/README.md, check).


class Source(NamedTuple):
    """One input stream: `name` is shown in reports, `relative` names its copy under --write-mutated."""

    name: str
    relative: str
    path: Path | None  # None: stdin


class Manifest(NamedTuple):
    source: Source
    line: int  # 1-based line of the object's first key
    object: dict[str, Any]


class Skipped(NamedTuple):
    """Input left out on purpose, not an error; `str()` is the one-line notice for the user."""

    file: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: skipped: {self.reason}"


Loaded = Manifest | InputError | Skipped
NO_OBJECT = "no Kubernetes object"
TEMPLATE = f"a template ({{{{ }}}}), not YAML: check what it renders to: helm template CHART {CHECK_RENDERED}"


class _Document(NamedTuple):
    node: yaml.Node
    line_base: int  # lines before the text the node's marks count from
    data: Any


class _Broken(NamedTuple):
    error: InputError
    templated: bool  # the line it breaks on has `{{`


def read(source: Source) -> str | InputError:
    """The source's text, or why it cannot be read (unreadable, not UTF-8)."""
    try:
        data = sys.stdin.buffer.read() if source.path is None else source.path.read_bytes()
    except OSError as exc:
        return InputError(Location(source.name), f"cannot read: {exc.strerror or exc}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return InputError(Location(source.name, line), f"not UTF-8 text (byte {data[exc.start]:#04x})")


def load(source: Source, texts: dict[Source, str] | None = None) -> list[Loaded]:
    """Every object in one source, in order, with the input errors where they occur, or why the whole
    source is skipped; `texts`, when given, keeps the text (--write-mutated writes it again, patched)."""
    text = read(source)
    if isinstance(text, InputError):
        return [text]
    if texts is not None:
        texts[source] = text
    return parse(source, text)


def parse(source: Source, text: str) -> list[Loaded]:
    """One text's objects and input errors in order, or the one reason it is skipped (see above)."""
    found: list[Manifest | InputError] = []
    strays: set[int] = set()  # where in `found` a document is no object: an error only beside objects
    manifests = False  # an object, or a document that looks like a broken one
    for document in _documents(source, text):
        if isinstance(document, _Broken):
            if document.templated:
                return [Skipped(source.name, TEMPLATE)]
            found.append(document.error)
            continue
        node, line_base, data = document
        if data is None:  # an empty document, as kubectl skips it
            continue
        line = line_base + node.start_mark.line + 1
        problem = _not_an_object(data)
        if problem is None:
            manifests = True
            found.extend(_objects(source, data, node, line, line_base))
            continue
        if _looks_like_a_manifest(data):
            manifests = True
        else:
            strays.add(len(found))
        found.append(InputError(Location(source.name, line), problem))
    if manifests:
        return list(found)
    kept: list[Loaded] = [item for index, item in enumerate(found) if index not in strays]
    return kept or [Skipped(source.name, NO_OBJECT)]


def _documents(source: Source, text: str) -> Iterator[_Document | _Broken]:
    offset = 0  # where the current attempt starts, after recovering from a broken document
    reported = -1  # a retry that fails where the last attempt did must not report it twice
    while True:
        line_base = text.count("\n", 0, offset)
        loader = Loader(text[offset:] if offset else text)
        try:
            while loader.check_node():
                node = cast(yaml.Node, loader.get_node())  # check_node() said there is one
                yield _Document(node, line_base, loader.construct_document(node))
            return
        except yaml.YAMLError as exc:
            line, index = _error_position(exc, text, offset)
            line_start = max(text.rfind("\n", 0, offset + index) + 1, offset)
            if line_base + line != reported:
                reported = line_base + line
                line_end = text.find("\n", line_start)
                templated = "{{" in text[line_start : None if line_end < 0 else line_end]
                error = InputError(Location(source.name, reported + 1), _problem(exc, line_base))
                yield _Broken(error, templated)
            # Resume at the next document start from the problem's line on; none left: the rest is lost.
            next_start = DOCUMENT_START.search(text, max(line_start, offset + 1))
            if next_start is None:
                return
            offset = next_start.start()
        finally:
            loader.dispose()


def _error_position(exc: yaml.YAMLError, text: str, offset: int) -> tuple[int, int]:
    """(0-based line, index) of a YAML error within the parsed part of `text`."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return mark.line, mark.index
    position = getattr(exc, "position", 0)  # ReaderError: a character position, no line
    return text.count("\n", offset, offset + position), position


def _problem(exc: yaml.YAMLError, line_base: int) -> str:
    if isinstance(exc, DuplicateKeyError):  # valid YAML to some parsers, but kubectl refuses it
        return f"{exc.problem} (first on line {line_base + exc.first.line + 1})"
    if isinstance(exc, yaml.reader.ReaderError):
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return f"not valid YAML: character #x{code:04x}: {exc.reason}"
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem is None:
        return "not valid YAML: " + str(exc).splitlines()[0]
    return f"not valid YAML: {problem} ({context})" if context else f"not valid YAML: {problem}"


def _objects(
    source: Source, data: dict[str, Any], node: yaml.Node | None, line: int, line_base: int
) -> Iterator[Manifest | InputError]:
    """The object, or a List's items (Lists in it too), each at its own line where it is known."""
    items = list_items(data)
    if items is None:
        yield Manifest(source, line, data)
        return
    nodes: list[yaml.Node | None] = list(_item_nodes(node))
    if len(nodes) != len(items):  # merge keys or aliases: the list's own line is the best we know
        nodes = [None] * len(items)
    for item, item_node in zip(items, nodes, strict=True):
        item_line = line if item_node is None else line_base + item_node.start_mark.line + 1
        problem = _not_an_object(item)
        if problem is None:
            yield from _objects(source, item, item_node, item_line, line_base)
        else:
            yield InputError(Location(source.name, item_line), problem)


def list_items(data: Any) -> list[Any] | None:
    """The items a List stands for (any kind ending in List: List, ServiceList, ...); None for any other
    object."""
    if not isinstance(data, dict) or not str(data.get("kind", "")).endswith("List"):
        return None
    items = data.get("items")
    return items if isinstance(items, list) else None


def _item_nodes(node: yaml.Node | None) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == "items" and isinstance(value, yaml.SequenceNode):
                return list(value.value)
    return []


def _not_an_object(data: Any) -> str | None:
    if not isinstance(data, dict):
        return f"not a Kubernetes object: a document must be a mapping, not {_type_name(data)}"
    for key in ("apiVersion", "kind"):
        if not isinstance(data.get(key), str) or not data[key]:
            return f"not a Kubernetes object: no {key}"
    return None


def _looks_like_a_manifest(data: Any) -> bool:
    return isinstance(data, dict) and ("kind" in data or ("apiVersion" in data and "metadata" in data))


def _type_name(data: Any) -> str:
    names = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return names.get(type(data), type(data).__name__)
