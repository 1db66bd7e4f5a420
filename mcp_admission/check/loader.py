"""Manifests in: files, directories and stdin become objects tagged with the file and line they start on.

YAML is parsed once with PyYAML's C loader; each document's line comes from its composed node (the
same node `yaml.load_all` would construct), so knowing where an object is costs no second pass.
JSON is read by the same loader (YAML is a superset of JSON). A document that does not parse is
reported and parsing resumes at the next `---`, so one broken document never hides the others.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"
STDIN_NAME = "stdin"  # how stdin is shown in reports and named under --write-mutated
_DOCUMENT_START = re.compile(r"^---(?=[ \t\r\n]|$)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Source:
    """One input stream: `name` is shown in reports, `relative` names its copy under --write-mutated."""

    name: str
    relative: str
    path: Path | None  # None: stdin


@dataclass(frozen=True, slots=True)
class Manifest:
    source: Source
    line: int  # 1-based line of the object's first key
    object: dict[str, Any]


@dataclass(frozen=True, slots=True)
class InputError:
    """Input that cannot be checked; `str()` is the message for the user, `file:line: problem`."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"


Loaded = Manifest | InputError


def expand(paths: Sequence[str | Path]) -> tuple[list[Source], list[InputError]]:
    """The sources behind -f arguments: files as given, directories walked recursively in sorted order."""
    sources: list[Source] = []
    errors: list[InputError] = []
    for arg in paths:
        if str(arg) == STDIN:  # at most once: command.run refuses a second "-"
            sources.append(Source(STDIN_NAME, STDIN_NAME + ".yaml", None))
            continue
        path = Path(arg)
        if path.is_dir():
            found = _walk(path)
            if not found:
                errors.append(InputError(str(arg), None, "no .yaml, .yml or .json files in this directory"))
            sources.extend(found)
        elif path.exists():
            sources.append(Source(str(arg), path.name, path))
        else:
            errors.append(InputError(str(arg), None, "no such file or directory"))
    return sources, errors


def _walk(root: Path) -> list[Source]:
    found: list[Source] = []
    for directory, subdirs, files in os.walk(root):  # does not follow directory symlinks: no loops
        subdirs.sort()
        for name in sorted(files):
            if name.endswith(MANIFEST_SUFFIXES):
                path = Path(directory, name)
                found.append(Source(str(path), path.relative_to(root).as_posix(), path))
    found.sort(key=lambda s: s.relative)
    return found


def read(source: Source) -> str | InputError:
    """The source's text, or why it cannot be read (unreadable, not UTF-8)."""
    try:
        data = sys.stdin.buffer.read() if source.path is None else source.path.read_bytes()
    except OSError as exc:
        return InputError(source.name, None, f"cannot read: {exc.strerror or exc}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return InputError(source.name, line, f"not UTF-8 text (byte {data[exc.start]:#04x})")


def load(source: Source) -> Iterator[Loaded]:
    """Every object in one source, in order, with the input errors where they occur."""
    text = read(source)
    if isinstance(text, InputError):
        yield text
        return
    yield from parse(source, text)


def parse(source: Source, text: str) -> Iterator[Loaded]:
    offset = 0  # where the current attempt starts, after recovering from a broken document
    reported = -1  # a retry that fails where the last attempt did must not report it twice
    while True:
        line_base = text.count("\n", 0, offset)
        loader = yaml.CSafeLoader(text[offset:] if offset else text)
        try:
            while loader.check_node():
                node = cast(yaml.Node, loader.get_node())  # check_node() said there is one
                yield from _objects(source, node, loader.construct_document(node), line_base)
            return
        except yaml.YAMLError as exc:
            line, index = _error_position(exc, text, offset)
            if line_base + line != reported:
                reported = line_base + line
                yield InputError(source.name, reported + 1, f"not valid YAML: {_problem(exc)}")
            # Resume at the next document start from the problem's line on; none left: the rest is lost.
            line_start = max(text.rfind("\n", 0, offset + index) + 1, offset + 1)
            next_start = _DOCUMENT_START.search(text, line_start)
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


def _problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.reader.ReaderError):
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return f"character #x{code:04x}: {exc.reason}"
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem is None:
        return str(exc).splitlines()[0]
    return f"{problem} ({context})" if context else str(problem)


def _objects(source: Source, node: yaml.Node, data: Any, line_base: int) -> Iterator[Loaded]:
    line = line_base + node.start_mark.line + 1
    if data is None:  # an empty document, as kubectl skips it
        return
    problem = _not_an_object(data)
    if problem:
        yield InputError(source.name, line, problem)
        return
    items = data.get("items")
    if not data["kind"].endswith("List") or not isinstance(items, list):  # List, ServiceList, ...
        yield Manifest(source, line, data)
        return
    lines = _item_lines(node, line_base)
    if len(lines) != len(items):  # merge keys or aliases: the list's own line is the best we know
        lines = [line] * len(items)
    for item, item_line in zip(items, lines, strict=True):
        problem = _not_an_object(item)
        yield InputError(source.name, item_line, problem) if problem else Manifest(source, item_line, item)


def _not_an_object(data: Any) -> str | None:
    if not isinstance(data, dict):
        return f"not a Kubernetes object: a document must be a mapping, not {_type_name(data)}"
    for key in ("apiVersion", "kind"):
        if not isinstance(data.get(key), str) or not data[key]:
            return f"not a Kubernetes object: no {key}"
    return None


def _type_name(data: Any) -> str:
    names = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return names.get(type(data), type(data).__name__)


def _item_lines(node: yaml.Node, line_base: int) -> list[int]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == "items" and isinstance(value, yaml.SequenceNode):
                return [line_base + item.start_mark.line + 1 for item in value.value]
    return []
