"""text: `notice: ...` lines about the whole run first, then one line per finding,
`file:line kind/namespace/name policy: message`, then a summary."""

from __future__ import annotations

from typing import TextIO

from ..result import Report, label, patch_summary, summary


def write(report: Report, out: TextIO) -> None:
    for notice in report.notices:
        out.write(f"notice: {notice}\n")
    for result in report.results:
        decision = result.decision
        if not (decision.patch or decision.warnings or decision.denial):
            continue
        where = f"{result.location} {label(result)}"
        if decision.denial is not None:
            out.write(f"{where} {decision.denial.policy}: denied: {decision.denial.message}\n")
        for warning in decision.warnings:
            out.write(f"{where} {warning.policy}: {warning.message}\n")
        if decision.patch:
            out.write(f"{where} patch: {patch_summary(decision.patch)}\n")
    out.write(summary(report) + "\n")
