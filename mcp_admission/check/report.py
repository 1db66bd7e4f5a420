"""What a run found, and the few ways every output format describes it alike."""

from __future__ import annotations

from typing import NamedTuple

from mcp_admission import exitcodes
from mcp_admission.policies import PatchOp

from .checker import Result
from .loader import InputError, Skipped


class Report(NamedTuple):  # a NamedTuple: see loader.py
    results: list[Result]
    errors: list[InputError]
    strict: bool
    skipped: tuple[Skipped, ...] = ()  # inputs left out on purpose (notices)
    notices: tuple[str, ...] = ()  # about the whole run, said once before any object

    def fails(self, result: Result) -> bool:
        """Whether this object alone fails the run."""
        return result.decision.denial is not None or (self.strict and bool(result.decision.warnings))

    @property
    def exit_code(self) -> int:
        if self.errors:  # the run is incomplete: that outranks whatever the rest found
            return exitcodes.UNUSABLE
        return exitcodes.FAILED if any(self.fails(r) for r in self.results) else exitcodes.OK


def location(result: Result) -> str:
    """file:line, or for a live object (audit) the apiserver path it was listed from."""
    source, line = result.manifest.source, result.manifest.line
    return source.name if line is None else f"{source.name}:{line}"


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
        text += f", {len(report.skipped)} inputs skipped"
    return text + (" (--strict: warnings fail)" if report.strict else "")
