"""json: a list with one entry per object checked (input errors go to stderr, as in every format)."""

from __future__ import annotations

from typing import Any, TextIO

import orjson

from ..result import Report, Result


def entry(result: Result) -> dict[str, Any]:
    ident, decision = result.identity, result.decision
    denial = decision.denial
    return {
        "file": result.location.name,  # an apiserver path for audit
        "line": result.location.line,
        "apiVersion": ident.api_version,
        "kind": ident.kind,
        "namespace": ident.namespace,
        "name": ident.name,
        "operation": result.operation.value,
        "patch": list(decision.patch),
        "warnings": [{"policy": w.policy, "message": w.message} for w in decision.warnings],
        "denial": None if denial is None else {"policy": denial.policy, "message": denial.message},
        "errors": [{"policy": e.policy, "error": e.error} for e in decision.errors],
    }


def write(report: Report, out: TextIO) -> None:
    data = orjson.dumps([entry(r) for r in report.results], option=orjson.OPT_INDENT_2)
    out.write(data.decode() + "\n")
