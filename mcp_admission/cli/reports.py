"""The reports of `check` and `audit`: `-o FORMAT[=FILE]`, repeatable, parsed and written in one place."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TextIO

from mcp_admission import exitcodes
from mcp_admission.check.report import Report
from mcp_admission.check.reporters import FORMATS, STDOUT, write_file

Output = tuple[str, str]  # (format, file or "-" for stdout)


def add_output_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--output",
        action="append",
        type=_output,
        metavar="FORMAT[=FILE]",
        help=f"report format ({', '.join(FORMATS)}; default text) to stdout, or to FILE, written whole or "
        "not at all; repeatable, at most one to stdout: -o text -o sarif=results.sarif -o junit=report.xml",
    )


def _output(value: str) -> Output:
    name, _, target = value.partition("=")
    if name not in FORMATS:
        raise argparse.ArgumentTypeError(f"unknown format {name!r} (choose from {', '.join(FORMATS)})")
    return name, target or STDOUT


def outputs(args: argparse.Namespace) -> list[Output] | str:
    """The reports to write, or why they cannot all be written."""
    chosen: list[Output] = args.output or [("text", STDOUT)]
    targets = [target for _, target in chosen]
    if targets.count(STDOUT) > 1:
        return "at most one report can go to stdout: give the others a file (-o FORMAT=FILE)"
    twice = next((t for t in targets if t != STDOUT and targets.count(t) > 1), None)
    return f"two reports to the same file: {twice}" if twice else chosen


def reader_left() -> None:
    """stdout's reader left (`| head`): the outcome stands; keep the final flush from failing too."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def write_reports(report: Report, chosen: list[Output], stdout: TextIO, prog: str) -> int:
    """Writes every report, and the report's notices on stderr unless a text report on stdout begins with
    them; returns the run's exit code: the report's, or UNUSABLE when a report file could not be written
    (said on stderr)."""
    unwritten = False
    if ("text", STDOUT) not in chosen:  # else the text report's first lines say them; json has no place
        for notice in report.notices:
            print(f"{prog}: notice: {notice}", file=sys.stderr)
    for name, target in chosen:
        try:
            if target == STDOUT:
                FORMATS[name](report, stdout)
            else:
                write_file(report, name, Path(target))
        except BrokenPipeError:
            reader_left()
        except OSError as exc:
            print(f"{prog}: cannot write {target}: {exc.strerror or exc}", file=sys.stderr)
            unwritten = True
    return exitcodes.UNUSABLE if unwritten else report.exit_code
