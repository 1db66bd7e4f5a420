"""The suite's xdist scheduler (tests/support/scheduling.py): every test runs exactly once, a unit stays on
one worker, and the worker kept free of planes never brings one up. Driven the way xdist's controller
drives a scheduler, with workers that run what they are sent in order."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.support.scheduling import ByBringUp

# A collection shaped like the suite's: a cluster-wide package, scratch tests, tests on the shared plane,
# and free tests, four of them sharing one nodeid as schemathesis' do.
PLAN = {
    **{f"tests/e2e/test_a.py::t{i}": ["cluster-wide tests/e2e", "plane"] for i in range(6)},
    **{f"tests/owners/test_b.py::t{i}": ["cluster-wide tests/owners", "plane"] for i in range(5)},
    **{f"tests/audit/test_c.py::t{i}": ["scratch", "plane", "scratch"] for i in range(3)},
    **{f"tests/audit/test_d.py::t{i}": ["", "plane"] for i in range(4)},
    **{f"tests/check/test_e.py::t{i}": [""] for i in range(40)},
    "tests/webhook/test_fuzz.py::test_openapi_schemathesis": [""],
}
COLLECTION = [*PLAN, *["tests/webhook/test_fuzz.py::test_openapi_schemathesis"] * 3]


class Config:
    """What xdist's scheduler reads of pytest's configuration."""

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def getoption(self, name: str) -> Any:
        return {"tx": [f"{self.workers}*popen"], "maxschedchunk": None}.get(name)

    getvalue = getoption


class Worker:
    """A worker as xdist's controller sees it: it runs the tests it was sent, in order, a test only when
    it knows the next one (or was told to shut down)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.gateway = SimpleNamespace(id=name)
        self.queue: list[int] = []
        self.ran: list[int] = []
        self.shutting_down = False

    def send_runtest_some(self, indices: list[int]) -> None:
        assert not self.shutting_down, "sent tests after shutdown"
        self.queue += indices

    def shutdown(self) -> None:
        self.shutting_down = True

    def can_run(self) -> bool:
        return len(self.queue) >= 2 or (self.shutting_down and bool(self.queue))


def run(workers: int, tmp_path: Path, plan: dict[str, list[str]] = PLAN) -> list[Worker]:
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    scheduler = ByBringUp(Config(workers), None, tmp_path / "plan.json")  # type: ignore[arg-type]
    nodes = [Worker(f"gw{i}") for i in range(workers)]
    for node in nodes:
        scheduler.add_node(node)
    for node in nodes:
        scheduler.add_node_collection(node, COLLECTION)
    scheduler.schedule()
    turn = 0
    while any(node.queue for node in nodes):
        node = [n for n in nodes if n.can_run()][turn % len([n for n in nodes if n.can_run()])]
        turn += 1
        index = node.queue.pop(0)
        node.ran.append(index)
        scheduler.mark_test_complete(node, index)
    assert scheduler.tests_finished and all(node.shutting_down for node in nodes)
    return nodes


def needs(index: int) -> set[str]:
    return set(PLAN[COLLECTION[index]][1:])


@pytest.mark.parametrize("workers", [1, 2, 3, 4])
def test_every_test_runs_once_and_a_unit_on_one_worker(workers: int, tmp_path: Path) -> None:
    nodes = run(workers, tmp_path)
    ran = Counter(index for node in nodes for index in node.ran)
    assert ran == Counter(range(len(COLLECTION)))  # the four tests with one nodeid too
    for unit in ("cluster-wide tests/e2e", "cluster-wide tests/owners", "scratch"):
        on = {node.name for node in nodes for i in node.ran if PLAN[COLLECTION[i]][0] == unit}
        assert len(on) == 1, (unit, on)
    planes = [node for node in nodes if any(needs(i) for i in node.ran)]
    assert len(planes) <= max(1, min(2, workers), workers - 1)
    if workers >= 3:  # one worker runs only what needs no plane, and it did run some
        free = [node for node in nodes if node not in planes]
        assert free and all(node.ran for node in free)
    scratch = [node for node in nodes if any("scratch" in needs(i) for i in node.ran)]
    assert len(scratch) == 1


def test_without_a_plan_it_is_xdist_load(tmp_path: Path) -> None:
    nodes = run(2, tmp_path, plan={})
    assert sorted(index for node in nodes for index in node.ran) == list(range(len(COLLECTION)))
    assert all(node.ran for node in nodes)
