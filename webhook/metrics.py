"""The webhook's Prometheus metrics, on the registry its server is given (mcp_admission.metrics).

The per-decision ones are plain counts the event loop adds to, turned into metric families only when
Prometheus scrapes (a custom collector, as prometheus-client's docs suggest for hot paths): a labelled
Counter or Histogram takes a lock and does its own lookups on every call, which cost the webhook more
than deciding a non-MCP object (bench/webhook). The event loop is their one writer; the scrape thread
only reads, and copying a dict of ints is atomic under the GIL.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, TypeVar

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from mcp_admission.policies import ALLOW, CORE_KINDS, MCP_RESOURCE_KINDS, Decision

if TYPE_CHECKING:
    from mcp_admission.webhook.protocol import Limits

# Label values come from requests: anything outside the kinds the policies know is "other", so a
# stream of odd kinds cannot grow the registry without bound.
KNOWN_KINDS = frozenset(MCP_RESOURCE_KINDS | {kind for _, kind in CORE_KINDS})
# A decision takes well under a millisecond; the apiserver's timeout is 10 s by default.
BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
# The buckets' `le` labels, written as prometheus-client writes them ("1.0", "+Inf").
_LE = tuple(floatToGoString(bound) for bound in (*BUCKETS, float("inf")))  # type: ignore[no-untyped-call]

RequestKey = tuple[str, str, str, str]  # endpoint, kind, operation, result
K = TypeVar("K")


class DecisionMetrics(Collector):
    """Requests by endpoint, kind, operation and result; durations by endpoint; findings by policy."""

    def __init__(self) -> None:
        self.requests: dict[RequestKey, int] = {}
        # Per endpoint: one count per bucket (not cumulative) and +Inf, then the sum of the seconds.
        self.durations: dict[str, list[float]] = {}
        self.patched: dict[str, int] = {}
        self.warnings: dict[str, int] = {}
        self.denials: dict[str, int] = {}
        self.policy_errors: dict[str, int] = {}

    def count_request(self, endpoint: str, kind: str, operation: str, result: str) -> None:
        _add(self.requests, (endpoint, kind if kind in KNOWN_KINDS else "other", operation, result))

    def record(self, endpoint: str, kind: str, operation: str, decision: Decision, seconds: float) -> None:
        self.count_request(endpoint, kind, operation, "allowed" if decision.denial is None else "denied")
        counts = self.durations.get(endpoint)
        if counts is None:
            counts = self.durations[endpoint] = [0.0] * (len(BUCKETS) + 2)
        counts[bisect_left(BUCKETS, seconds)] += 1  # le: a value on a bound counts in that bucket
        counts[-1] += seconds
        if decision is ALLOW:  # nearly every request: nothing by policy to count
            return
        for finding in decision.warnings:
            _add(self.warnings, finding.policy)
            # A fixed finding accompanies its policy's patch: the one way to attribute patches to policies.
            if finding.fixed and decision.patch:
                _add(self.patched, finding.policy)
        if decision.denial is not None:
            _add(self.denials, decision.denial.policy)
        for error in decision.errors:
            _add(self.policy_errors, error.policy)

    def collect(self) -> Iterator[CounterMetricFamily | HistogramMetricFamily]:
        requests = CounterMetricFamily(
            "mcp_admission_requests",
            "Admission requests answered, by endpoint, kind, operation and result (allowed, denied, error).",
            labels=["endpoint", "kind", "operation", "result"],
        )
        for key, value in list(self.requests.items()):
            requests.add_metric(key, value)
        yield requests
        durations = HistogramMetricFamily(
            "mcp_admission_request_duration_seconds",
            "Time from reading a request to its answer, by endpoint.",
            labels=["endpoint"],
        )
        for endpoint, counts in list(self.durations.items()):
            counts = list(counts)
            cumulative, buckets = 0.0, []
            for le, count in zip(_LE, counts[:-1], strict=True):
                cumulative += count
                buckets.append((le, cumulative))
            durations.add_metric([endpoint], buckets, counts[-1])
        yield durations
        for name, documentation, values in (
            ("mcp_admission_patches", "Objects patched, by policy.", self.patched),
            ("mcp_admission_warnings", "Warnings returned, by policy.", self.warnings),
            ("mcp_admission_denials", "Requests denied, by policy.", self.denials),
            (
                "mcp_admission_policy_errors",
                "Policies that raised (contained: the request went on).",
                self.policy_errors,
            ),
        ):
            family = CounterMetricFamily(name, documentation, labels=["policy"])
            for policy, value in list(values.items()):
                family.add_metric([policy], value)
            yield family


def _add(counts: dict[K, int], key: K) -> None:
    counts[key] = counts.get(key, 0) + 1


class ConnectionMetrics(Collector):
    """Open connections, the bytes their bodies being read hold, and the connections a limit closed, per
    listener (webhook.protocol), read at scrape time."""

    def __init__(self, listeners: Mapping[str, Limits]) -> None:
        self.listeners = listeners

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        open_ = GaugeMetricFamily(
            "mcp_admission_open_connections", "Connections open after their handshake.", labels=["listener"]
        )
        # What shows a request whose head was read (its body reserves its length) and how close the
        # listener is to maxInflightBodyBytes, past which the slowest body is cut.
        bodies = GaugeMetricFamily(
            "mcp_admission_body_bytes_in_flight",
            "Bytes reserved by request bodies being read (their declared length), bounded by "
            "maxInflightBodyBytes.",
            labels=["listener"],
        )
        cut = CounterMetricFamily(
            "mcp_admission_connections_cut",
            "Connections closed by a limit: head (too large), timeout (request not complete in time), "
            "evicted (oldest waiting one, for a newcomer), connections (all busy: the newcomer), "
            "body_budget (slowest body, for another), handshakes (oldest TLS handshake, for a newcomer).",
            labels=["listener", "reason"],
        )
        for name, limits in self.listeners.items():
            open_.add_metric([name], len(limits.open))
            bodies.add_metric([name], limits.budget.used)
            for reason, count in list(limits.cut.items()):
                cut.add_metric([name, reason], count)
        yield open_
        yield bodies
        yield cut


class WebhookMetrics:
    """Everything the webhook counts, registered on one registry."""

    def __init__(self, registry: CollectorRegistry, listeners: Mapping[str, Limits] | None = None) -> None:
        self.internal_errors = Counter(
            "mcp_admission_internal_errors",
            "Unexpected webhook errors; the request was allowed with a warning.",
            registry=registry,
        )
        self.rejected = Counter(
            "mcp_admission_rejected_requests",
            "Request bodies rejected before the engine, by reason.",
            ["reason"],  # not_json, not_admission_review, content_type, too_large, method
            registry=registry,
        )
        self.decisions = DecisionMetrics()
        registry.register(self.decisions)
        if listeners:
            registry.register(ConnectionMetrics(listeners))
