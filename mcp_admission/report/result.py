"""What a run found, and the few ways every output format describes it alike.

`check` locates what it reports in files (`file:line`), `audit` by the apiserver path it listed the
object from: both are a Location, so one Result, one Report and one set of formats serve both.
"""

from __future__ import annotations

from typing import NamedTuple

from mcp_admission import exitcodes
from mcp_admission.policies import Decision, Operation, PatchOp

# NamedTuples, not frozen dataclasses: quicker to define at start-up and to build for every object read.


class Location(NamedTuple):
    """Where an object or a problem is: a file and a line in it (check), or an apiserver path (audit)."""

    name: str  # a file as given (`stdin` for stdin), or an apiserver path without its leading '/'
    line: int | None = None  # 1-based; None: the whole file, or an apiserver path (which has no lines)
    api: bool = False  # `name` is an apiserver path: nothing a reader can open, so never made relative

    def __str__(self) -> str:
        return self.name if self.line is None else f"{self.name}:{self.line}"


def api_path(path: str) -> Location:
    """The Location of what was read from the apiserver at `path` (`/apis/apps/v1/statefulsets`)."""
    return Location(path.lstrip("/"), None, True)


Key = tuple[str, str, str, str]  # (group, kind, namespace, name): one object, whatever its version


class Identity(NamedTuple):
    api_version: str  # as the object says it (reports repeat it as written)
    kind: str
    namespace: str  # "" for a cluster-scoped object
    name: str  # "" for a generateName, as in the AdmissionRequest

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]  # "v1" is the core group ""

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def key(self) -> Key:
        return (self.group, self.kind, self.namespace, self.name)


class Result(NamedTuple):
    """One object decided: where it is, what it is, and the webhooks' decision on it."""

    location: Location
    identity: Identity
    operation: Operation
    decision: Decision


class InputError(NamedTuple):
    """Input that cannot be checked or read; `str()` is `file:line: problem` (or `path: problem`)."""

    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class Report(NamedTuple):
    results: list[Result]
    errors: list[InputError]
    strict: bool
    skipped: int = 0  # inputs left out on purpose (each said in a notice of its own)
    notices: tuple[str, ...] = ()  # about the whole run, said once before any object
    command: str = "mcp-admission check"  # what made it (the JUnit root's name): check or audit

    def fails(self, result: Result) -> bool:
        """Whether this object alone fails the run."""
        return result.decision.denial is not None or (self.strict and bool(result.decision.warnings))

    @property
    def exit_code(self) -> int:
        if self.errors:  # the run is incomplete: that outranks whatever the rest found
            return exitcodes.UNUSABLE
        return exitcodes.FAILED if any(self.fails(r) for r in self.results) else exitcodes.OK


def label(result: Result) -> str:
    """kind/namespace/name, or kind/name for a cluster-scoped object."""
    ident = result.identity
    return f"{ident.kind}/{ident.namespace}/{ident.name}" if ident.namespace else f"{ident.kind}/{ident.name}"


def patch_summary(patch: tuple[PatchOp, ...] | list[PatchOp]) -> str:
    """'replace /spec/sessionAffinity, add /spec/sessionAffinityConfig'."""
    return ", ".join(f"{op['op']} {op['path']}" for op in patch)


def summary(report: Report) -> str:
    results = report.results
    patched = sum(1 for r in results if r.decision.patch)
    warnings = sum(len(r.decision.warnings) for r in results)
    denied = sum(1 for r in results if r.decision.denial is not None)
    text = (
        f"{len(results)} objects checked: {patched} patched, {warnings} warnings, {denied} denied, "
        f"{len(report.errors)} input errors"
    )
    if report.skipped:
        text += f", {report.skipped} inputs skipped"
    return text + (" (--strict: warnings fail)" if report.strict else "")
