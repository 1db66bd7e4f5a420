"""`mcp-admission check`: the webhook's decisions, offline, for manifests in CI."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from mcp_admission import exitcodes
from mcp_admission.check.checker import Result, check, previous_versions
from mcp_admission.check.loader import STDIN, STDIN_NAME, InputError, Manifest, Skipped, Source, load
from mcp_admission.check.report import Report
from mcp_admission.check.reporters import STDOUT
from mcp_admission.check.sources import expand
from mcp_admission.cli import options
from mcp_admission.cli.reports import Output, add_output_option, outputs, reader_left, write_reports
from mcp_admission.configfile import ConfigError, config_file
from mcp_admission.policies import PolicyConfig

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXIT_CODES = exitcodes.epilog(
    ok="nothing fails the run (there may be warnings and patches the webhook would make)",
    failed="a policy in enforce mode denies an object, or, under --strict, any warning",
    unusable="unusable input: a missing or unreadable file, a directory without manifests, no\n"
    "     Kubernetes object in any input, YAML that does not parse or has a key twice in a mapping\n"
    "     (reported as file:line), a document that is not a Kubernetes object beside objects or that\n"
    "     looks like a broken one, a bad configuration file, a report or mutated manifests that cannot be\n"
    "     written. Every good document is still checked and reported; 2 outranks 1.",
)
READING = """\
what is read:
  Files and directories (recursive: .yaml, .yml, .json; -f or plain PATH arguments), or - for stdin.
  An object is a mapping with apiVersion and kind; a List (any kind ending in List, with items)
  stands for its items, Lists in it too. Skipped with a one-line notice on stderr, not errors:
  - a file with no object at all (values.yaml, Chart.yaml, configs, dashboards, an empty file); but a
    document with kind, or with apiVersion and metadata, is a broken manifest (exit 2), and beside
    objects every other document is an error too;
  - a file whose YAML breaks on a line with {{ (a Go or Helm template);
  - a Helm chart's templates/ (beside a Chart.yaml): check the chart rendered,
    helm template CHART | mcp-admission check -f -
  No object in any input is exit 2 (a mistyped path must not pass), unless --allow-no-objects.

--exclude GLOB:
  Without '/', GLOB matches a file or directory name at any depth (values*.yaml, tests); with '/',
  the whole path, as given (deploy/charts/*/ci/*.yaml) or below the -f directory (charts/*/ci).
  * and ? stay within one path segment, ** spans any number of them, [abc] and [!abc] are classes.
  A directory that matches is left out whole.

"""


HELP = "check manifests against the policies, offline (for CI)"
DESCRIPTION = (
    "Run the webhook's decisions on manifests: each object is defaulted as the apiserver "
    "would, then mutated and validated. Objects are CREATEs, or UPDATEs when --old has them."
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = options.command(subparsers, "check", HELP, READING + EXIT_CODES, DESCRIPTION)
    parser.add_argument(
        "-f",
        "--filename",
        dest="files",
        action="append",
        metavar="PATH",
        help="a file, a directory (recursive: .yaml, .yml, .json) or - for stdin; repeatable. "
        "Default: the bundled example manifests",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="the same as -f PATH (as pre-commit passes)")
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="leave out the files and directories GLOB matches (see below); repeatable",
    )
    parser.add_argument(
        "--allow-no-objects",
        action="store_true",
        help="no Kubernetes object in any input is not an error (pre-commit passes the changed files only)",
    )
    parser.add_argument(
        "--old",
        action="append",
        default=[],
        metavar="PATH",
        help="previous versions of the objects (same forms as -f): matching objects are checked as UPDATEs",
    )
    add_output_option(parser)
    parser.add_argument(
        "--write-mutated",
        metavar="DIR",
        help="write the input files with objects again, with the webhook's patches in them and nothing "
        "else (comments, order and quoting kept; nothing that only apiserver defaulting adds): under DIR at "
        "their input names (stdin as stdin.yaml), each written only if its content changes, so DIR may be "
        "the input's own directory (fixed in place) or a new one (a full copy); or as one stream to stdout "
        "with '-' (the report then goes to stderr)",
    )
    options.add_config(parser)
    parser.add_argument("-n", "--namespace", default="default", help="namespace of objects that name none")
    parser.add_argument("--strict", action="store_true", help="warnings fail the run (exit 1)")
    parser.set_defaults(func=run)


class _Inputs:
    """What was read: errors and notices as they come, in input order."""

    def __init__(self, exclude: list[str]) -> None:
        self.exclude = exclude
        self.errors: list[InputError] = []
        self.skipped: list[Skipped] = []

    def load(
        self, paths: list[str], what: str, allow_none: bool, texts: dict[Source, str] | None = None
    ) -> list[Manifest]:
        errors_before = len(self.errors)
        manifests: list[Manifest] = []
        for found in expand(paths, self.exclude):
            for loaded in load(found, texts) if isinstance(found, Source) else [found]:
                if isinstance(loaded, Manifest):
                    manifests.append(loaded)
                elif isinstance(loaded, Skipped):
                    self.skipped.append(loaded)
                else:
                    self.errors.append(loaded)
        if not manifests and len(self.errors) == errors_before and not allow_none:
            problem = f"no Kubernetes object found in any {what}"
            self.errors.extend(InputError(STDIN_NAME if p == STDIN else p, None, problem) for p in paths)
        return manifests


def _default_sources() -> list[str]:
    # Shown relative to the working directory when they are below it (a source checkout).
    return [os.path.relpath(EXAMPLES) if EXAMPLES.is_relative_to(Path.cwd()) else str(EXAMPLES)]


def _load_config(path: str | None) -> PolicyConfig:
    """The configuration file's, else the engine's defaults without even importing the models of the
    other parts' sections (webhook, reconciler, certs: 4 % of the start-up, 909 -> 874 M instructions)."""
    if config_file(path) is None:
        return PolicyConfig()
    from mcp_admission.cli.config import load_config  # the whole file: its other sections are checked too

    return load_config(path)


def run(args: argparse.Namespace) -> int:
    try:
        config = _load_config(args.config)
    except ConfigError as exc:
        return exitcodes.cannot_start("check", exc)
    given = (args.files or []) + args.paths
    if args.old.count(STDIN) + given.count(STDIN) > 1 or (STDIN in args.old and not given):
        return exitcodes.cannot_start("check", "stdin (-) can be read only once")

    chosen = outputs(args)
    if isinstance(chosen, str):
        return exitcodes.cannot_start("check", chosen)

    with _without_cycle_collection():
        return _check(args, config, given, chosen)


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """A check makes no reference cycles worth collecting, and keeps every object it reads to the end:
    the cyclic collector's passes over them took ~15 % of the CPU time on bench/check's stream."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _check(args: argparse.Namespace, config: PolicyConfig, given: list[str], chosen: list[Output]) -> int:
    inputs = _Inputs(args.exclude)
    old = previous_versions(inputs.load(args.old, "--old input", args.allow_no_objects), args.namespace)
    texts: dict[Source, str] | None = None if args.write_mutated is None else {}  # kept to write them
    manifests = inputs.load(given or _default_sources(), "input", args.allow_no_objects, texts)
    results = [check(m, old, config, args.namespace) for m in manifests]
    report = Report(results, inputs.errors, args.strict, tuple(inputs.skipped), _notices(results, config))

    return _write(args, report, texts or {}, chosen)


def _notices(results: list[Result], config: PolicyConfig) -> tuple[str, ...]:
    """What ToolHive's operator, where the input has its Deployment (a rendered chart), says about the
    configuration (mcp_admission.check.operator)."""
    deployments = [r for r in results if r.identity.kind == "Deployment" and r.identity.group == "apps"]
    if not deployments:
        return ()
    from mcp_admission.check.operator import notices, toolhive_operator

    found = (toolhive_operator(r.manifest.object, r.identity.namespace) for r in deployments)
    return tuple(notices([o for o in found if o is not None], config))


def _write(args: argparse.Namespace, report: Report, texts: dict[Source, str], chosen: list[Output]) -> int:
    """Writes everything; returns the run's exit code (write_reports)."""
    out: TextIO = sys.stdout
    if args.write_mutated is not None:
        # Imported only then: its round-trip machinery is 3 % of the start-up's instructions otherwise.
        from mcp_admission.check.mutated import write_mutated

        if args.write_mutated == STDOUT:
            out = sys.stderr
        try:
            report.errors.extend(write_mutated(report.results, texts, args.write_mutated, sys.stdout))
        except BrokenPipeError:  # the report still goes to stderr
            reader_left()
    for notice in report.skipped:
        print(notice, file=sys.stderr)
    for error in report.errors:
        print(error, file=sys.stderr)
    return write_reports(report, chosen, out, "mcp-admission check")
