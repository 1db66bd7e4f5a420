"""One module per output format, each with `write(report, out)`, imported when its format is used."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator, Mapping
from importlib import import_module
from pathlib import Path
from typing import TextIO

from ..result import Report

Writer = Callable[[Report, TextIO], None]
STDOUT = "-"  # -o FORMAT=- (or no =FILE): the report to stdout
_MODULES = {"text": "text", "json": "json_list", "sarif": "sarif", "junit": "junit"}


class _Formats(Mapping[str, Writer]):
    # A run writes one or two formats: each is imported when first used, so `check` does not start by
    # importing all four (orjson, xml.etree, importlib.metadata; bench/README.md, cold start).
    def __getitem__(self, name: str) -> Writer:
        writer: Writer = import_module(f"{__name__}.{_MODULES[name]}").write
        return writer

    def __iter__(self) -> Iterator[str]:
        return iter(_MODULES)

    def __len__(self) -> int:
        return len(_MODULES)


FORMATS: Mapping[str, Writer] = _Formats()


def write_file(report: Report, name: str, path: Path) -> None:
    """The report in format `name` to `path`, whole or not at all: written beside it, then renamed over
    it, so a reader (a CI upload step) never sees half a report. Raises OSError."""
    text = io.StringIO()
    FORMATS[name](report, text)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "x", encoding="utf-8") as out:
            out.write(text.getvalue())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
