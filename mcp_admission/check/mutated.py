"""--write-mutated: the input files again, with the webhook's patches written into them and nothing else.

Each patch is rebased onto the manifest as written (rebase.py): what only the apiserver's defaulting
adds is never written. Only the documents that change are re-emitted (roundtrip.py: comments, key
order, quoting and indentation kept); every other document is written back byte for byte. A
`kind: List` is patched item by item, inside the list (a List in a List too).

Every input file with objects is written (not the files the loader skips: values.yaml, templates).
Into a directory, under the same relative name (a directory argument's files keep their path below
it; stdin is `stdin.yaml`), so the directory is a complete copy that can be applied as it is; a file
whose content would not change is not touched (same bytes, same mtime), so `--write-mutated` into the
input's own directory edits in place exactly the files that need it. Files are replaced atomically,
keeping their mode. To `-`: those files one after the other as one stream, with only the changed
documents changed (for `-f -` alone: the input stream itself).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import yaml

from mcp_admission.policies import PatchOp
from mcp_admission.report.result import InputError, Location

from .checker import Checked
from .construct import Loader
from .loader import DOCUMENT_START, Source, list_items
from .rebase import rebase
from .roundtrip import ItemPath, RoundTripError, rewrite

STDOUT = "-"

Position = tuple[int, ItemPath]  # (document of the file, the object's indices down through `items`)


def write_mutated(
    results: list[Checked], texts: dict[Source, str], target: str, stdout: TextIO
) -> list[InputError]:
    """Writes the sources' `texts` (in input order) patched; returns what could not be done."""
    changed: dict[Source, list[Checked]] = {result.manifest.source: [] for result in results}
    for result in results:
        if result.decision.patch:
            changed[result.manifest.source].append(result)
    errors: list[InputError] = []
    patched = {
        source: _patched_text(text, changed[source], errors) if changed[source] else text
        for source, text in texts.items()
        if source in changed  # a file with objects
    }
    if target == STDOUT:
        stdout.write("".join(_stream(patched.values())))
        return errors
    problem = _write_files(patched, Path(target))
    if problem:
        errors.append(InputError(Location(target), f"cannot write mutated manifests: {problem}"))
    return errors


def _patched_text(text: str, changed: list[Checked], errors: list[InputError]) -> str:
    documents = _split(text)
    parsed = [_parse(document) for document in documents]
    objects = list(_objects(parsed))
    edits: dict[int, dict[ItemPath, tuple[PatchOp, ...]]] = {}
    first: dict[int, Checked] = {}  # the first patched object of each document, to report it by
    cursor = 0
    for result in changed:
        found = _find(objects, result.manifest.object, cursor)
        if found is None:  # never expected: the loader read the same text
            errors.append(_error(result, "cannot find this object in its file again"))
            continue
        cursor = found + 1
        (document, item), _ = objects[found]
        try:
            ops = rebase(result.manifest.object, result.decision.patch)
        except ValueError as exc:
            errors.append(_error(result, str(exc)))
            continue
        if ops:  # none when the manifest already says what the patch sets
            # setdefault: a file given twice has its objects found twice, with the same patches.
            edits.setdefault(document, {}).setdefault(item, ops)
            first.setdefault(document, result)
    for document, document_edits in edits.items():
        try:
            documents[document] = rewrite(documents[document], parsed[document], document_edits)
        except RoundTripError as exc:
            errors.append(_error(first[document], f"{exc}; left unchanged"))
    return "".join(documents)


def _error(checked: Checked, problem: str) -> InputError:
    return InputError(checked.result.location, f"--write-mutated: {problem}")


def _split(text: str) -> list[str]:
    """The file cut before each `---`: the loader's documents, each with its own comments."""
    starts = [0, *(m.start() for m in DOCUMENT_START.finditer(text) if m.start())]
    return [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]


def _parse(document: str) -> Any:
    try:
        return yaml.load(document, Loader=Loader)
    except yaml.YAMLError:  # reported by the loader; written back as it is
        return None


def _objects(parsed: list[Any]) -> Iterator[tuple[Position, Any]]:
    """Every document and every item of its `items`, Lists in Lists too, in order: where the loader's
    objects are."""
    for index, document in enumerate(parsed):
        for path, obj in _items(document, ()):
            yield (index, path), obj


def _items(obj: Any, path: ItemPath) -> Iterator[tuple[ItemPath, Any]]:
    yield path, obj
    for index, item in enumerate(list_items(obj) or ()):
        yield from _items(item, (*path, index))


def _find(objects: list[tuple[Position, Any]], obj: Any, cursor: int) -> int | None:
    """The first object equal to `obj` from `cursor` on (the loader's order), else from the start."""
    for start, stop in ((cursor, len(objects)), (0, cursor)):
        for index in range(start, stop):
            if objects[index][1] == obj:
                return index
    return None


def _stream(texts: Iterable[str]) -> Iterator[str]:
    """The texts as one YAML stream: each file after the first starts a new document."""
    previous = ""
    for text in texts:
        if previous and text:
            if not previous.endswith("\n"):
                yield "\n"
            if not DOCUMENT_START.match(text):
                yield "---\n"
        yield text
        previous = text or previous


def _write_files(patched: dict[Source, str], root: Path) -> str | None:
    """Writes each text under root; returns why it could not, or None."""
    by_path: dict[Path, Source] = {}
    for source in patched:
        path = root / source.relative
        other = by_path.setdefault(path, source)
        if other != source:
            return f"{other.name} and {source.name} would both be {path}; give their common directory"
    try:
        for path, source in by_path.items():
            _write_if_changed(path, patched[source])
    except OSError as exc:
        return f"{exc.strerror or exc} ({exc.filename or root})"
    return None


def _write_if_changed(path: Path, text: str) -> None:
    path = Path(os.path.realpath(path))  # a symlinked manifest: write the file it points to
    try:
        if path.read_bytes().decode("utf-8-sig") == text:
            return
        mode: int | None = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = None
    except UnicodeDecodeError:  # not what we would write: replaced
        mode = stat.S_IMODE(path.stat().st_mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside it, then renamed over it: an interrupted run never leaves a manifest half-written.
    temporary = path.with_name(f".{path.name}.mcp-admission-tmp")
    try:
        with open(temporary, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
