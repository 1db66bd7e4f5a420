"""The decision metrics and decision log lines, read back the way Prometheus and a log shipper read them."""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mcp_admission.logs import JSONFormatter, ObjectLog
from mcp_admission.policies import ALLOW, Decision, Finding, Operation, Phase, PolicyError
from mcp_admission.webhook.decision_log import DecisionLog
from mcp_admission.webhook.metrics import BUCKETS, DecisionMetrics


def scrape(collector: DecisionMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, parsed by prometheus-client's own text parser."""
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_decisions_are_counted_by_endpoint_kind_operation_result_and_policy() -> None:
    metrics = DecisionMetrics()
    patched = Decision(({"op": "add", "path": "/x", "value": 1},), (Finding("session-affinity", "m", True),))
    denied = Decision(denial=Finding("session-storage", "no"), errors=(PolicyError("broken", "boom"),))
    metrics.record(Phase.MUTATE, "Service", Operation.CREATE, patched, 0.0003)
    metrics.record("mutate", "Service", "CREATE", patched, 0.0002)  # StrEnum members are their values
    metrics.record("validate", "ConfigMap", "UPDATE", denied, 0.02)  # an odd kind is "other"
    metrics.record("mutate", "Deployment", "UPDATE", ALLOW, 0.00001)
    metrics.count_request("mutate", "Service", "CREATE", "error")
    samples = scrape(metrics)

    def requests(endpoint: str, kind: str, operation: str, result: str) -> float:
        labels = {"endpoint": endpoint, "kind": kind, "operation": operation, "result": result}
        return samples[("mcp_admission_requests_total", tuple(sorted(labels.items())))]

    assert requests("mutate", "Service", "CREATE", "allowed") == 2
    assert requests("mutate", "Service", "CREATE", "error") == 1
    assert requests("validate", "other", "UPDATE", "denied") == 1
    assert requests("mutate", "Deployment", "UPDATE", "allowed") == 1
    assert samples[("mcp_admission_patches_total", (("policy", "session-affinity"),))] == 2
    assert samples[("mcp_admission_warnings_total", (("policy", "session-affinity"),))] == 2
    assert samples[("mcp_admission_denials_total", (("policy", "session-storage"),))] == 1
    assert samples[("mcp_admission_policy_errors_total", (("policy", "broken"),))] == 1
    assert ("mcp_admission_warnings_total", (("policy", "session-storage"),)) not in samples  # a denial


@pytest.mark.parametrize("seconds", [0.0, 0.00005, *BUCKETS, 0.3, 5.0])
def test_the_duration_histogram_counts_like_prometheus_client(seconds: float) -> None:
    """Cumulative buckets with `le` inclusive, +Inf, _count and _sum: a value on a bound is in that bucket."""
    ours = DecisionMetrics()
    ours.record("mutate", "Service", "CREATE", ALLOW, seconds)
    ours.record("mutate", "Service", "CREATE", ALLOW, 0.004)
    registry = CollectorRegistry()
    name = "mcp_admission_request_duration_seconds"
    reference = Histogram(name, "", ["endpoint"], buckets=BUCKETS, registry=registry)
    reference.labels("mutate").observe(seconds)
    reference.labels("mutate").observe(0.004)
    expected = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
        if not sample.name.endswith("_created")
    }
    got = {key: value for key, value in scrape(ours).items() if key[0].startswith(name)}
    assert got == expected


def test_a_decision_line_reads_like_every_other_log_line(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.BytesIO()

    class Stream:
        buffer = out

    monkeypatch.setattr(sys, "stderr", Stream())
    logger = logging.getLogger("mcp_admission.webhook.test")
    fields: dict[str, Any] = {"uid": "u-1", "kind": "Service", "warnings": ["a\nb"], "odd": {1, 2}}

    async def write_two() -> None:
        decisions = DecisionLog(logger)
        decisions.write(logging.INFO, fields)
        decisions.write(logging.DEBUG, {"uid": "u-2"})
        await asyncio.sleep(0)  # the lines of one loop turn go out together, at its end

    asyncio.run(write_two())
    first, second = (orjson.loads(line) for line in out.getvalue().splitlines())
    record = logging.LogRecord(logger.name, logging.INFO, __file__, 1, "decision", None, None)
    record.fields = {"uid": "u-1"}
    formatted = orjson.loads(JSONFormatter().format(record))
    assert list(first)[:4] == list(formatted)[:4] == ["time", "level", "logger", "message"]
    assert first["level"] == "info" and second["level"] == "debug"
    assert first["logger"] == logger.name and first["message"] == "decision"
    assert first["warnings"] == ["a\nb"] and first["uid"] == "u-1"
    assert first["odd"] == str({1, 2})  # anything orjson cannot write is written as its str()
    assert len(first["time"]) == len(formatted["time"]) == len("2026-11-21T15:45:40.123+00:00")


def test_an_object_logger_puts_the_object_in_fields_of_every_line() -> None:
    """The reconciler's and certs' lines name their object as fields (filterable), not in the text."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JSONFormatter())
    logger = logging.getLogger("tests.object-log")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        sts = ObjectLog.for_key(logger, "StatefulSet", "tools/fetch")
        sts.info("applied Service %s", "mcp-fetch", extra={"fields": {"service": "mcp-fetch"}})
        ObjectLog.for_key(logger, "MutatingWebhookConfiguration", "mcp-admission").warning("changed")
    finally:
        logger.removeHandler(handler)
    applied, changed = (orjson.loads(line) for line in out.getvalue().splitlines())
    assert applied["message"] == "applied Service mcp-fetch"
    assert {k: applied[k] for k in ("kind", "namespace", "name", "service")} == {
        "kind": "StatefulSet",
        "namespace": "tools",
        "name": "fetch",
        "service": "mcp-fetch",
    }
    assert (changed["kind"], changed["namespace"], changed["name"]) == (
        "MutatingWebhookConfiguration",
        "",
        "mcp-admission",
    )
