"""A whole `audit` run against a cluster: read and decide, then say what was read, which admission the
cluster runs, and write the reports. The CLI (mcp_admission.cli.audit) parses the arguments, loads the
configuration, connects, and turns the outcome into an exit code."""

from __future__ import annotations

import sys
from typing import NamedTuple, TextIO

from mcp_admission.kube import Kube
from mcp_admission.policies import PolicyConfig
from mcp_admission.report.operator import notices
from mcp_admission.report.output import Outcome, Output, error_line, say, write_reports
from mcp_admission.report.result import Report

from .auditor import audit
from .mode import admission_mode
from .resources import Resource

PROG = "mcp-admission audit"


class Options(NamedTuple):
    """What to audit and how (the command line's, parsed)."""

    namespace: str | None  # None: all namespaces
    page_size: int
    strict: bool
    outputs: list[Output]


class _Progress:
    """One line on a terminal, rewritten with `\\r` after each page: the resource and objects read."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.width = 0

    def __call__(self, resource: Resource, read: int) -> None:
        text = f"{PROG}: {resource.name}: {read} read"
        self.out.write("\r" + text.ljust(self.width))
        self.out.flush()
        self.width = len(text)

    def clear(self) -> None:
        if self.width:
            self.out.write("\r" + " " * self.width + "\r")
            self.out.flush()


def run(kube: Kube, config: PolicyConfig, options: Options) -> Outcome:
    where = f"namespace {options.namespace}" if options.namespace else "all namespaces"
    if options.namespace in config.excluded_namespaces:
        say(PROG, f"{where} is in excludedNamespaces: nothing to read")

    progress = _Progress(sys.stderr) if sys.stderr.isatty() else None
    try:
        found = audit(kube, config, options.namespace, options.page_size, progress)
    finally:
        if progress is not None:
            progress.clear()
    report = Report(
        found.results,
        found.errors,
        options.strict,
        notices=tuple(notices(found.operators, config)),
        command=PROG,
    )
    for error in report.errors:
        print(error_line(PROG, error), file=sys.stderr)
    counts = ", ".join(f"{name} {count}" for name, count in found.read.items())
    total = f"{sum(found.read.values())} objects read in {where}" + (f" ({counts})" if counts else "")
    say(PROG, f"{total}; {len(found.results)} MCP workloads")
    say(PROG, admission_mode(kube))
    return Outcome(report, write_reports(report, options.outputs, sys.stdout, PROG))
