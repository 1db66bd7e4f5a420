"""The webhook's Prometheus metrics (default registry, served on the plain-HTTP metrics port)."""

from __future__ import annotations

from functools import cache
from typing import Any

from prometheus_client import Counter, Histogram

from policies import Decision
from policies.workloads import CORE_KINDS, MCP_RESOURCE_KINDS

# Label values come from requests: anything outside the kinds the policies know is "other", so a
# stream of odd kinds cannot grow the registry without bound.
KNOWN_KINDS = frozenset(MCP_RESOURCE_KINDS | {kind for _, kind in CORE_KINDS})

REQUESTS = Counter(
    "mcp_admission_requests_total",
    "Admission requests answered, by endpoint, kind, operation and result (allowed, denied, error).",
    ["endpoint", "kind", "operation", "result"],
)
DURATION = Histogram(
    "mcp_admission_request_duration_seconds",
    "Time from reading a request to its answer, by endpoint.",
    ["endpoint"],
    # A decision takes well under a millisecond; the apiserver's timeout is 10 s by default.
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
PATCHED = Counter("mcp_admission_patches_total", "Objects patched, by policy.", ["policy"])
WARNINGS = Counter("mcp_admission_warnings_total", "Warnings returned, by policy.", ["policy"])
DENIALS = Counter("mcp_admission_denials_total", "Requests denied, by policy.", ["policy"])
POLICY_ERRORS = Counter(
    "mcp_admission_policy_errors_total", "Policies that raised (contained: the request went on).", ["policy"]
)
INTERNAL_ERRORS = Counter(
    "mcp_admission_internal_errors_total",
    "Unexpected webhook errors; the request was allowed with a warning.",
)
REJECTED = Counter(
    "mcp_admission_rejected_requests_total",
    "Request bodies rejected before the engine, by reason.",
    ["reason"],  # not_json, not_admission_review, content_type, too_large, method
)


def kind_label(kind: str) -> str:
    return kind if kind in KNOWN_KINDS else "other"


# labels() validates and locks on every call; the label sets are few, so keep their children.
@cache
def _requests(endpoint: str, kind: str, operation: str, result: str) -> Any:
    return REQUESTS.labels(endpoint, kind, operation, result)


@cache
def _duration(endpoint: str) -> Any:
    return DURATION.labels(endpoint)


@cache
def _by_policy(counter: Counter, policy: str) -> Any:
    return counter.labels(policy)


def record_decision(endpoint: str, kind: str, operation: str, decision: Decision, seconds: float) -> None:
    result = "allowed" if decision.denial is None else "denied"
    _requests(endpoint, kind_label(kind), operation, result).inc()
    _duration(endpoint).observe(seconds)
    for finding in decision.warnings:
        _by_policy(WARNINGS, finding.policy).inc()
        # A fixed finding accompanies its policy's patch: the one way to attribute patches to policies.
        if finding.fixed and decision.patch:
            _by_policy(PATCHED, finding.policy).inc()
    if decision.denial is not None:
        _by_policy(DENIALS, decision.denial.policy).inc()
    for error in decision.errors:
        _by_policy(POLICY_ERRORS, error.policy).inc()
