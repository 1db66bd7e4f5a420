"""reconciler/drift.py and reconciler/queue.py: pure parts, no cluster."""

from __future__ import annotations

import copy
import threading
from typing import Any

from mcp_admission.backoff import backoff
from mcp_admission.reconciler.drift import needs_apply
from mcp_admission.reconciler.queue import WorkQueue

DESIRED: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {
        "name": "mcp-a",
        "namespace": "n",
        "labels": {"mine": "1"},
        "ownerReferences": [{"kind": "StatefulSet", "name": "a", "uid": "u1", "controller": True}],
    },
    "spec": {
        "selector": {"app": "a"},
        "ports": [{"name": "p", "port": 80, "protocol": "TCP", "targetPort": 80}],
    },
}
# What our manager owns after applying DESIRED (fieldsV1 as a 1.20 apiserver writes it).
OWNED = {
    "f:metadata": {
        "f:labels": {"f:mine": {}},
        "f:ownerReferences": {
            'k:{"uid":"u1"}': {".": {}, "f:controller": {}, "f:kind": {}, "f:name": {}, "f:uid": {}}
        },
    },
    "f:spec": {
        "f:selector": {"f:app": {}},
        "f:ports": {
            'k:{"port":80,"protocol":"TCP"}': {
                ".": {},
                "f:name": {},
                "f:port": {},
                "f:protocol": {},
                "f:targetPort": {},
            }
        },
    },
}


def live(**changes: Any) -> dict[str, Any]:
    obj = copy.deepcopy(DESIRED)
    del obj["apiVersion"], obj["kind"]  # list items carry neither
    obj["metadata"]["managedFields"] = [{"manager": "mcp-admission", "operation": "Apply", "fieldsV1": OWNED}]
    obj["metadata"]["resourceVersion"] = "7"
    obj["spec"]["clusterIP"] = "10.0.0.1"  # server-set fields are not drift
    for path, value in changes.items():
        section, key = path.split("__")
        obj[section][key] = value
    return obj


def test_converged_object_needs_no_apply() -> None:
    assert not needs_apply(DESIRED, live(), "mcp-admission")


def test_foreign_additions_are_not_drift() -> None:
    obj = live(
        metadata__labels={"mine": "1", "cloud.example/neg": "x"}, metadata__annotations={"foreign": "y"}
    )
    obj["spec"]["ports"].insert(0, {"name": "other", "port": 81, "protocol": "TCP", "targetPort": 81})
    assert not needs_apply(DESIRED, obj, "mcp-admission")


def test_missing_or_changed_fields_are_drift() -> None:
    assert needs_apply(DESIRED, None, "mcp-admission")
    assert needs_apply(DESIRED, live(spec__selector={"app": "b"}), "mcp-admission")
    assert needs_apply(DESIRED, live(metadata__labels={}), "mcp-admission")
    assert needs_apply(
        DESIRED,
        live(spec__ports=[{"name": "p", "port": 81, "protocol": "TCP", "targetPort": 80}]),
        "mcp-admission",
    )


def test_a_field_we_own_but_no_longer_declare_is_drift() -> None:
    desired = copy.deepcopy(DESIRED)
    desired["metadata"]["labels"] = {}
    assert needs_apply(desired, live(), "mcp-admission")  # apply would drop our old label
    assert not needs_apply(desired, live(), "someone-else")


def test_queue_deduplicates_and_reruns_a_key_added_while_active() -> None:
    depths: list[int] = []
    queue = WorkQueue(depths.append)
    queue.add("n/a")
    queue.add("n/a")
    queue.add("n/b")
    assert queue.get() == "n/a"
    queue.add("n/a")  # while a worker holds it: once more after done, never concurrently
    assert queue.get() == "n/b"
    queue.done("n/b")
    queue.done("n/a")
    assert queue.get() == "n/a"
    queue.done("n/a")
    assert queue.wait_idle(0)
    assert max(depths) == 2


def test_queue_retry_later_comes_back_and_close_releases_workers() -> None:
    queue = WorkQueue(lambda _: None, base_delay=0.001, max_delay=0.01)
    queue.retry_later("n/a")
    assert queue.get() == "n/a"
    queue.done("n/a")
    got: list[str | None] = []
    worker = threading.Thread(target=lambda: got.append(queue.get()))
    worker.start()
    queue.close()
    worker.join(5)
    assert got == [None]


def test_backoff_is_bounded_and_jittered() -> None:
    values = {backoff(attempt, 0.1, 5) for attempt in range(40)}
    assert all(0 <= v <= 5 for v in values)
    assert len(values) > 1
