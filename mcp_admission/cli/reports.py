"""The reports' option of `check` and `audit`: `-o FORMAT[=FILE]`, repeatable, parsed in one place (the
reports are written by mcp_admission.report.output)."""

from __future__ import annotations

import argparse

from mcp_admission.report.output import Output, problem
from mcp_admission.report.reporters import FORMATS, STDOUT


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
    return problem(chosen) or chosen
