"""A whole `check` run: read the inputs, check each object, write the reports, the mutated manifests and
what stderr says. The CLI (mcp_admission.cli.check) parses the arguments, loads the configuration and
turns the outcome into an exit code."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple, TextIO

from mcp_admission.policies import PolicyConfig
from mcp_admission.report.output import Outcome, Output, error_line, reader_left, write_reports
from mcp_admission.report.reporters import STDOUT
from mcp_admission.report.result import InputError, Location, Report

from .checker import Checked, check, previous_versions
from .loader import STDIN, STDIN_NAME, Manifest, Skipped, Source, load
from .sources import expand

PROG = "mcp-admission check"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


class Options(NamedTuple):  # not a frozen dataclass: quicker to define at start-up
    """What to check and how (the command line's, parsed)."""

    inputs: list[str]  # -f and PATH arguments, in order; none: the bundled example manifests
    old: list[str]  # --old
    exclude: list[str]  # --exclude globs
    allow_no_objects: bool
    write_mutated: str | None  # a directory, STDOUT, or None
    namespace: str  # of objects that name none
    strict: bool
    outputs: list[Output]


def stdin_problem(inputs: list[str], old: list[str]) -> str | None:
    """Why these inputs cannot be read, or None: stdin can be read only once, and --old from stdin needs
    inputs besides."""
    if old.count(STDIN) + inputs.count(STDIN) > 1 or (STDIN in old and not inputs):
        return "stdin (-) can be read only once"
    return None


def run(options: Options, config: PolicyConfig) -> Outcome:
    with _without_cycle_collection():
        return _check(options, config)


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
            self.errors.extend(InputError(Location(STDIN_NAME if p == STDIN else p), problem) for p in paths)
        return manifests


def _default_sources() -> list[str]:
    # Shown relative to the working directory when they are below it (a source checkout).
    return [os.path.relpath(EXAMPLES) if EXAMPLES.is_relative_to(Path.cwd()) else str(EXAMPLES)]


def _check(options: Options, config: PolicyConfig) -> Outcome:
    inputs = _Inputs(options.exclude)
    allow_none = options.allow_no_objects
    old = previous_versions(inputs.load(options.old, "--old input", allow_none), options.namespace)
    texts: dict[Source, str] | None = None if options.write_mutated is None else {}  # kept to write them
    manifests = inputs.load(options.inputs or _default_sources(), "input", allow_none, texts)
    checked = [check(m, old, config, options.namespace) for m in manifests]
    results = [c.result for c in checked]
    notices = _notices(checked, config)
    report = Report(results, inputs.errors, options.strict, len(inputs.skipped), notices, PROG)
    return _write(options, report, checked, texts or {}, inputs.skipped)


def _notices(checked: list[Checked], config: PolicyConfig) -> tuple[str, ...]:
    """What ToolHive's operator, where the input has its Deployment (a rendered chart), says about the
    configuration (mcp_admission.report.operator)."""
    deployments = [c for c in checked if c.identity.kind == "Deployment" and c.identity.group == "apps"]
    if not deployments:
        return ()
    from mcp_admission.report.operator import notices, toolhive_operator

    found = (toolhive_operator(c.manifest.object, c.identity.namespace) for c in deployments)
    return tuple(notices([o for o in found if o is not None], config))


def _write(
    options: Options, report: Report, checked: list[Checked], texts: dict[Source, str], skipped: list[Skipped]
) -> Outcome:
    """Writes everything: the mutated manifests, the skipped inputs and errors on stderr, the reports."""
    out: TextIO = sys.stdout
    if options.write_mutated is not None:
        # Imported only then: its round-trip machinery is 3 % of the start-up's instructions otherwise.
        from .mutated import write_mutated

        if options.write_mutated == STDOUT:
            out = sys.stderr
        try:
            report.errors.extend(write_mutated(checked, texts, options.write_mutated, sys.stdout))
        except BrokenPipeError:  # the report still goes to stderr
            reader_left()
    for notice in skipped:
        print(notice, file=sys.stderr)
    for error in report.errors:
        print(error_line(PROG, error), file=sys.stderr)
    return Outcome(report, write_reports(report, options.outputs, out, PROG))
