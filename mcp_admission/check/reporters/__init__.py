"""One module per output format, each with `write(report, out)`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from ..report import Report
from . import json_list, junit, sarif, text

Writer = Callable[[Report, TextIO], None]
FORMATS: dict[str, Writer] = {
    "text": text.write,
    "json": json_list.write,
    "sarif": sarif.write,
    "junit": junit.write,
}
