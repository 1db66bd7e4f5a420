"""junit: a testsuite per input file, a testcase per object; denials (and warnings under --strict) are
failures, unusable input is an error, anything else said about an object goes to its system-out.
Notices about the whole run come first, as properties of a testsuite named `notices` with no
testcase (counted as no test)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TextIO

from ..result import InputError, Report, Result, label, patch_summary

NOTICES = "notices"  # the testsuite that holds them


def _lines(result: Result) -> list[str]:
    decision = result.decision
    lines = [f"{w.policy}: {w.message}" for w in decision.warnings]
    if decision.patch:
        lines.append(f"patch: {patch_summary(decision.patch)}")
    return lines


def _testcase(suite: ET.Element, result: Result, report: Report) -> None:
    file, line = result.location.name, result.location.line
    name = label(result) if line is None else f"{label(result)} (line {line})"
    case = ET.SubElement(suite, "testcase", classname=file, name=name, file=file)
    if line is not None:  # None: a live object (audit)
        case.set("line", str(line))
    denial = result.decision.denial
    if report.fails(result):
        first = denial or result.decision.warnings[0]
        body = ([f"denied: {denial.policy}: {denial.message}"] if denial else []) + _lines(result)
        failure = ET.SubElement(
            case, "failure", message=f"{first.policy}: {first.message}", type=first.policy
        )
        failure.text = "\n".join(body)
    elif lines := _lines(result):
        ET.SubElement(case, "system-out").text = "\n".join(lines)


def _error_case(suite: ET.Element, error: InputError) -> None:
    file, line = error.location.name, error.location.line
    where = "input" if line is None else f"line {line}"
    case = ET.SubElement(suite, "testcase", classname=file, name=where, file=file)
    if line is not None:
        case.set("line", str(line))
    ET.SubElement(case, "error", message=error.message, type="invalid-input").text = str(error)


def document(report: Report) -> ET.Element:
    root = ET.Element("testsuites", name=report.command)
    suites: dict[str, ET.Element] = {}
    if report.notices:
        properties = ET.SubElement(ET.SubElement(root, "testsuite", name=NOTICES), "properties")
        for notice in report.notices:
            ET.SubElement(properties, "property", name="notice", value=notice)

    def suite(file: str) -> ET.Element:
        if file not in suites:
            suites[file] = ET.SubElement(root, "testsuite", name=file)
        return suites[file]

    for result in report.results:
        _testcase(suite(result.location.name), result, report)
    for error in report.errors:
        _error_case(suite(error.location.name), error)
    for element in (*root.findall("testsuite"), root):
        cases = element.iter("testcase")
        counts = {"tests": 0, "failures": 0, "errors": 0}
        for case in cases:
            counts["tests"] += 1
            counts["failures"] += case.find("failure") is not None
            counts["errors"] += case.find("error") is not None
        for key, value in counts.items():
            element.set(key, str(value))
    return root


def write(report: Report, out: TextIO) -> None:
    ET.indent(root := document(report))
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n")
