"""Where a run's report and its lines to the user go: the reports (`-o FORMAT[=FILE]`), and stderr.

Every line on stderr reads one of two ways, for `check` and `audit` alike:
- `FILE:LINE: problem` (or `FILE: ...`) when it is about a place in a file the user gave: location
  first, as compilers, linters and kubeconform write it, so editors and CI problem matchers jump to it;
- `mcp-admission COMMAND: ...` for everything else: the run as a whole, and what was read from the
  apiserver (a path nobody opens in an editor), as every line of a command that cannot start.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NamedTuple, TextIO

from .reporters import FORMATS, STDOUT, write_file
from .result import InputError, Report

Output = tuple[str, str]  # (format, file or STDOUT)


class Outcome(NamedTuple):
    """A run's end: its report, and whether every report could be written (the CLI's exit code)."""

    report: Report
    written: bool


def problem(chosen: list[Output]) -> str | None:
    """Why the reports cannot all be written, or None."""
    targets = [target for _, target in chosen]
    if targets.count(STDOUT) > 1:
        return "at most one report can go to stdout: give the others a file (-o FORMAT=FILE)"
    twice = next((t for t in targets if t != STDOUT and targets.count(t) > 1), None)
    return f"two reports to the same file: {twice}" if twice else None


def say(prog: str, text: str) -> None:
    """A line about the run as a whole, on stderr: `mcp-admission COMMAND: text`."""
    print(f"{prog}: {text}", file=sys.stderr)


def error_line(prog: str, error: InputError) -> str:
    """An input error as stderr shows it (see the module)."""
    return f"{prog}: {error}" if error.location.api else str(error)


def reader_left() -> None:
    """stdout's reader left (`| head`): the outcome stands; keep the final flush from failing too."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def write_reports(report: Report, chosen: list[Output], stdout: TextIO, prog: str) -> bool:
    """Writes every report, and the report's notices on stderr unless a text report on stdout begins with
    them; returns whether every report was written (what was not is said on stderr)."""
    written = True
    if ("text", STDOUT) not in chosen:  # else the text report's first lines say them; json has no place
        for notice in report.notices:
            say(prog, f"notice: {notice}")
    for name, target in chosen:
        try:
            if target == STDOUT:
                FORMATS[name](report, stdout)
            else:
                write_file(report, name, Path(target))
        except BrokenPipeError:
            reader_left()
        except OSError as exc:
            say(prog, f"cannot write {target}: {exc.strerror or exc}")
            written = False
    return written
