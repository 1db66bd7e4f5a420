"""sarif: SARIF 2.1.0 as GitHub code scanning accepts it (rules with short descriptions, results with
a rule, a level, a message and a file-relative location with a start line). Notices about the whole run
are the run's invocations[0].toolConfigurationNotifications."""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TextIO
from urllib.parse import quote

import orjson

from mcp_admission.policies import ALL_POLICIES, Finding

from ..result import InputError, Location, Report, Result, label, patch_summary

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INPUT_RULE = "invalid-input"  # not a policy: input the check could not read
NOTICE = "configuration"  # a notice about the whole run: the configuration and the operator disagree


def _version() -> str:
    try:
        return version("mcp-admission")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "0"


def _rules() -> list[dict[str, Any]]:
    rules = [
        {"id": p.id, "name": p.id, "shortDescription": {"text": p.summary}, "help": {"text": p.summary}}
        for p in ALL_POLICIES
    ]
    text = "a manifest that cannot be checked: missing, unreadable, not YAML, or not a Kubernetes object"
    rules.append({"id": INPUT_RULE, "name": INPUT_RULE, "shortDescription": {"text": text}})
    return rules


def _uri(location: Location) -> str:
    """A file relative to the working directory (the checkout, in CI; `stdin` stays `stdin`), with '/'
    separators, URI-escaped; an apiserver path as it is."""
    path = location.name if location.api else os.path.relpath(location.name).replace(os.sep, "/")
    return quote(path)


def _location(location: Location) -> dict[str, Any]:
    # GitHub wants a region with a start line on every result: line 1 for a problem with a whole file.
    region = {"startLine": location.line or 1}
    return {"physicalLocation": {"artifactLocation": {"uri": _uri(location)}, "region": region}}


def _result(
    rule_index: dict[str, int], rule: str, level: str, text: str, where: dict[str, Any]
) -> dict[str, Any]:
    return {
        "ruleId": rule,
        "ruleIndex": rule_index[rule],
        "level": level,
        "message": {"text": text},
        "locations": [where],
    }


def _level(finding: Finding, strict: bool) -> str:
    if strict:
        return "error"
    return "note" if finding.fixed else "warning"  # a fixed finding: the webhook patches it


def _object_results(result: Result, report: Report, rule_index: dict[str, int]) -> list[dict[str, Any]]:
    decision = result.decision
    where = _location(result.location)
    found = []
    if decision.denial is not None:
        text = f"{label(result)}: denied: {decision.denial.message}"
        found.append(_result(rule_index, decision.denial.policy, "error", text, where))
    for warning in decision.warnings:
        text = f"{label(result)}: {warning.message}"
        if warning.fixed and decision.patch:
            text += f" (patch: {patch_summary(decision.patch)})"
        found.append(_result(rule_index, warning.policy, _level(warning, report.strict), text, where))
    return found


def _error_result(error: InputError, rule_index: dict[str, int]) -> dict[str, Any]:
    return _result(rule_index, INPUT_RULE, "error", error.message, _location(error.location))


def document(report: Report) -> dict[str, Any]:
    rules = _rules()
    rule_index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = [found for r in report.results for found in _object_results(r, report, rule_index)]
    results.extend(_error_result(e, rule_index) for e in report.errors)
    driver = {"name": "mcp-admission", "version": _version(), "rules": rules}
    run: dict[str, Any] = {"tool": {"driver": driver}, "results": results}
    if report.notices:  # SARIF's place for what concerns the tool's configuration (3.20.22)
        notifications = [
            {"descriptor": {"id": NOTICE}, "level": "warning", "message": {"text": notice}}
            for notice in report.notices
        ]
        run["invocations"] = [
            {"executionSuccessful": not report.errors, "toolConfigurationNotifications": notifications}
        ]
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def write(report: Report, out: TextIO) -> None:
    out.write(orjson.dumps(document(report), option=orjson.OPT_INDENT_2).decode() + "\n")
