"""The engine: one request, a configuration and the policies to run in, one Decision out. Pure: no I/O,
no clock. It knows no policy by name: the catalogue (policies/catalogue.py) hands them in.

It alone decides what applies (operation, namespace, workload, opt-outs, modes), what a mode does
with a policy's findings, and how a warning reads, so the webhook, CLI and reconciler agree.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from mcp_admission.policies.engine.config import EngineConfig
from mcp_admission.policies.engine.model import (
    ALLOW,
    Decision,
    Finding,
    Operation,
    PatchOp,
    Phase,
    PolicyError,
    Request,
)
from mcp_admission.policies.engine.policy import Policy
from mcp_admission.policies.engine.settings import Mode
from mcp_admission.policies.engine.workloads import TOOLHIVE_GROUP, Workload, recognise

# kubectl shows each warning on one line; the apiserver's budget is 4096 runes for all of them.
MAX_WARNING_RUNES = 120
_ADMITTED = frozenset({Operation.CREATE, Operation.UPDATE})


def warning_text(finding: Finding) -> str:
    """How a finding reads as an admission warning: '<policy id>: <message>'."""
    return f"{finding.policy}: {finding.message}"


def _printable(text: str) -> str:
    # The apiserver drops a warning with any control character; replace them instead.
    return "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)


def clean_warnings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Printable, at most MAX_WARNING_RUNES each, de-duplicated, first-seen order."""
    cleaned: list[Finding] = []
    seen: set[str] = set()
    for finding in findings:
        message = finding.message
        if not message.isprintable():
            message = _printable(message)
        room = MAX_WARNING_RUNES - len(finding.policy) - 2
        if len(message) > room:
            message = message[: room - 1] + "…"
        if message is not finding.message:
            finding = Finding(finding.policy, message, finding.fixed)
        text = warning_text(finding)
        if text not in seen:
            seen.add(text)
            cleaned.append(finding)
    return tuple(cleaned)


def workload_of(request: Request, config: EngineConfig) -> Workload | None:
    """The MCP workload a request is about, or None when the engine leaves the request alone."""
    if (
        request.operation not in _ADMITTED
        or request.sub_resource  # scale, status: not the workload object
        or request.namespace in config.excluded_namespaces
        or not isinstance(request.object, dict)
    ):
        return None
    workload = recognise(request, config.workloads)
    if workload is None or "*" in workload.skipped:
        return None
    if workload.group == TOOLHIVE_GROUP:  # a resource: what the operator does where its spec is silent
        default = config.toolhive.default_session_storage
        if default != workload.default_session_storage:
            workload = workload._replace(default_session_storage=default)
    return workload


def decide(
    request: Request,
    config: EngineConfig,
    policies: Sequence[Policy[Any]],
    phase: Phase | None = None,
) -> Decision:
    """The decision of `policies` on one request; `phase` keeps only the mutating or the validating ones."""
    workload = workload_of(request, config)
    if workload is None:
        return ALLOW
    return evaluate(request, workload, config, policies, phase)


def evaluate(
    request: Request,
    workload: Workload,
    config: EngineConfig,
    policies: Sequence[Policy[Any]],
    phase: Phase | None = None,
) -> Decision:
    """Run the policies that apply to a recognised workload, in their modes."""
    skipped = workload.skipped
    patch: list[PatchOp] = []
    warnings: list[Finding] = []
    denial: Finding | None = None
    errors: list[PolicyError] = []
    for policy in policies:
        if (
            workload.kind not in policy.kinds  # first: it rules out most policies for any object
            or (phase is not None and policy.phase is not phase)
            or request.operation not in policy.operations
            or policy.id in skipped
        ):
            continue
        settings = config.settings(policy)
        if settings.mode is Mode.OFF:
            continue
        try:
            outcome = policy.evaluate(request, workload, settings)
        except Exception as exc:  # contained: this request goes on without that policy's effect
            errors.append(PolicyError(policy.id, f"{type(exc).__name__}: {exc}"))
            warnings.append(Finding(policy.id, "internal error; policy skipped for this object"))
            continue
        patch.extend(outcome.patch)
        for finding in outcome.findings:
            if settings.mode is Mode.ENFORCE and not finding.fixed and denial is None:
                denial = finding
            else:
                warnings.append(finding)
    if denial is not None:
        (denial,) = clean_warnings((denial,))
        patch.clear()  # a denied object is not stored: a patch would only mislead
    return Decision(tuple(patch), clean_warnings(warnings), denial, tuple(errors))
