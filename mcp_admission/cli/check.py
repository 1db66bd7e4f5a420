"""`mcp-admission check`: the webhook's decisions, offline, for manifests in CI."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TextIO

from mcp_admission import exitcodes
from mcp_admission.check.checker import check, previous_versions
from mcp_admission.check.loader import InputError, Manifest, expand, load
from mcp_admission.check.mutated import STDOUT, write_mutated
from mcp_admission.check.report import Report
from mcp_admission.check.reporters import FORMATS
from mcp_admission.cli.config import load_config
from mcp_admission.configfile import ConfigError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXIT_CODES = exitcodes.epilog(
    ok="nothing fails the run (there may be warnings and patches the webhook would make)",
    failed="a policy in enforce mode denies an object, or, under --strict, any warning",
    unusable="unusable input: a missing or unreadable file, a directory without manifests, YAML that\n"
    "     does not parse (reported as file:line), a document that is not a Kubernetes object (no kind or\n"
    "     apiVersion), a bad configuration file, or mutated manifests that cannot be written.\n"
    "     Every good document is still checked and reported; 2 outranks 1.",
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check manifests against the policies, offline (for CI)",
        description="Run the webhook's decisions on manifests: each object is defaulted as the apiserver "
        "would, then mutated and validated. Objects are CREATEs, or UPDATEs when --old has them.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-f",
        "--filename",
        dest="files",
        action="append",
        metavar="PATH",
        help="a file, a directory (recursive: .yaml, .yml, .json) or - for stdin; repeatable. "
        "Default: the bundled example manifests",
    )
    parser.add_argument(
        "--old",
        action="append",
        default=[],
        metavar="PATH",
        help="previous versions of the objects (same forms as -f): matching objects are checked as UPDATEs",
    )
    parser.add_argument("-o", "--output", choices=sorted(FORMATS), default="text", help="report format")
    parser.add_argument(
        "--write-mutated",
        metavar="DIR",
        help="write every object as the webhook would leave it, as YAML, under DIR (mirroring input file "
        "names; stdin as stdin.yaml), or to stdout with '-' (the report then goes to stderr)",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="configuration file (default: $MCP_ADMISSION_CONFIG)"
    )
    parser.add_argument("-n", "--namespace", default="default", help="namespace of objects that name none")
    parser.add_argument("--strict", action="store_true", help="warnings fail the run (exit 1)")
    parser.set_defaults(func=run)


def _load_all(paths: list[str], errors: list[InputError]) -> list[Manifest]:
    sources, missing = expand(paths)
    errors.extend(missing)
    manifests: list[Manifest] = []
    for loaded in (item for source in sources for item in load(source)):
        if isinstance(loaded, InputError):
            errors.append(loaded)
        else:
            manifests.append(loaded)
    return manifests


def _default_sources() -> list[str]:
    # Shown relative to the working directory when they are below it (a source checkout).
    return [os.path.relpath(EXAMPLES) if EXAMPLES.is_relative_to(Path.cwd()) else str(EXAMPLES)]


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"mcp-admission check: {exc}", file=sys.stderr)
        return exitcodes.UNUSABLE
    if args.old.count("-") + (args.files or []).count("-") > 1 or ("-" in args.old and args.files is None):
        print("mcp-admission check: stdin (-) can be read only once", file=sys.stderr)
        return exitcodes.UNUSABLE

    errors: list[InputError] = []
    old = previous_versions(_load_all(args.old, errors), args.namespace)
    manifests = _load_all(args.files or _default_sources(), errors)
    results = [check(m, old, config, args.namespace) for m in manifests]
    report = Report(results, errors, args.strict)

    try:
        _write(args, report)
    except BrokenPipeError:
        # The reader left (`| head`): the outcome stands; keep the final flush from failing too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return report.exit_code


def _write(args: argparse.Namespace, report: Report) -> None:
    out: TextIO = sys.stdout
    if args.write_mutated is not None:
        if args.write_mutated == STDOUT:
            out = sys.stderr
        problem = write_mutated(report.results, args.write_mutated, sys.stdout)
        if problem:
            report.errors.append(InputError(args.write_mutated, None, problem))
    for error in report.errors:
        print(error, file=sys.stderr)
    FORMATS[args.output](report, out)
