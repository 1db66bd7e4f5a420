"""Kubernetes Events (core/v1, which a 1.20 apiserver serves) on the objects we act on or leave alone."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from mcp_admission.kube import Kube, KubeError
from mcp_admission.logs import ObjectLog
from mcp_admission.reconciler.informer import object_key
from mcp_admission.reconciler.metrics import ReconcilerMetrics

log = logging.getLogger(__name__)
COMPONENT = "mcp-admission-reconciler"


def record(kube: Kube, obj: dict[str, Any], kind: str, event_type: str, reason: str, message: str) -> None:
    """Create one Event about `obj` (a StatefulSet, say): kubectl describe shows it."""
    meta = obj.get("metadata") or {}
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        # client-go's naming: the object's name and a unique suffix.
        "metadata": {"name": f"{name}.{time.time_ns():x}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": obj.get("apiVersion", "apps/v1"),
            "kind": kind,
            "namespace": namespace,
            "name": name,
            "uid": meta.get("uid", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        },
        "type": event_type,
        "reason": reason,
        "message": message[:1024],
        "source": {"component": COMPONENT},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "reportingComponent": COMPONENT,
    }
    kube.request("POST", f"/api/v1/namespaces/{namespace}/events", body=event)


def announce(
    kube: Kube, metrics: ReconcilerMetrics, sts: dict[str, Any], event_type: str, reason: str, message: str
) -> None:
    """An Event on a StatefulSet, best effort: what was done (or left alone) stands without its Event."""
    try:
        record(kube, sts, "StatefulSet", event_type, reason, message)
        metrics.writes.labels("Event").inc()
    except KubeError as exc:
        metrics.errors.inc()
        ObjectLog.for_key(log, "StatefulSet", object_key(sts)).warning("could not record an Event: %s", exc)
