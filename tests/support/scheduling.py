"""Which worker runs which test under pytest-xdist: the tests that share an expensive bring-up run where
it is already up.

A control plane takes 11-18 s to start, and each xdist worker is a session of its own: under xdist's
`load` mode every worker gets a share of every kind of test, so every worker starts a shared plane, two
start a scratch plane, and a package that installs cluster-wide parts (e2e, owners, the chart) installs
them on both. Here the tests are put into units that must stay together, and a worker takes whole units:

- a package's tests that use `cluster_wide` are one unit (its package fixture installs once);
- the tests on the scratch plane are one unit (one scratch plane per run);
- the tests on the machine's node or its image are one unit (one image build, one node);
- every other test is a unit of its own.

Workers pull units as they run dry, as under `load`: the ones with a plane first take the units that
need a plane (the largest first), then tests that need none. With three workers or more, one worker never
takes a test that needs a plane, so it never starts one: it runs the tests that need none meanwhile.

The controller does not collect, so the workers say what each test needs: each writes, while it
collects, {nodeid: [unit, needs...]} to the file the controller named in its `workerinput`. The four
tests of tests/webhook/test_fuzz.py share one nodeid (schemathesis); this works on the collection's
indices, as `load` does, so all four run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest
from xdist.scheduler import LoadScheduling
from xdist.workermanage import WorkerController

PLAN_KEY = "mcp_admission_plan"  # workerinput key: the file workers write what tests need to

# A fixture a test uses (directly or through others) → the bring-up it needs.
NEEDS = {
    "control_plane": "plane",
    "scratch_plane": "scratch",
    "node_plane": "node",
    "project_image": "node",
}


def unit_and_needs(item: pytest.Item) -> list[str]:
    """[unit, needs...] of a collected test; unit "" means a unit of its own."""
    names = set(getattr(item, "fixturenames", ()))
    needs = sorted({need for fixture, need in NEEDS.items() if fixture in names})
    if "node" in needs:
        unit = "node"
    elif "scratch" in needs:
        unit = "scratch"
    elif "cluster_wide" in names:
        unit = f"cluster-wide {item.path.parent}"
    else:
        unit = ""
    return [unit, *needs]


def write_plan(path: Path, items: Iterable[pytest.Item]) -> None:
    """In a worker: what each collected test needs, for the controller's scheduler (atomically)."""
    plan = {item.nodeid: unit_and_needs(item) for item in items}
    partial = path.with_suffix(f".{os.getpid()}")
    partial.write_text(json.dumps(plan))
    partial.replace(path)


class ByBringUp(LoadScheduling):  # type: ignore[misc]  # xdist ships no types
    """xdist's `load`, but a worker takes whole units and only one with a plane takes plane work."""

    def __init__(self, config: pytest.Config, log: object, plan: Path) -> None:
        super().__init__(config, log)
        self.plan = plan
        self.collection: list[str] | None = None  # xdist's, typed
        self.unit_of: list[str] = []  # per collection index
        self.needs_of: list[frozenset[str]] = []
        self.planes: dict[WorkerController, set[str]] = {}  # what each worker has brought up
        self.for_planes: list[WorkerController] = []  # the workers that may bring up a plane

    def schedule(self) -> None:
        assert self.collection_is_completed
        if self.collection is not None:  # a node added later: as `load` does
            for node in self.nodes:
                self.check_schedule(node)
            return
        if not self._check_nodes_have_same_collection():
            self.log("**Different tests collected, aborting run**")
            return
        collection: list[str] = next(iter(self.node2collection.values()))
        self.collection = collection
        self._read_plan(collection)
        self.pending[:] = range(len(collection))
        nodes = self.nodes
        # With two workers both bring up a plane: the plane work is most of the suite's time.
        self.for_planes = nodes if len(nodes) <= 2 else nodes[:-1]
        for node in nodes:
            self.planes[node] = set()
            self.check_schedule(node)

    def _read_plan(self, collection: Sequence[str]) -> None:
        plan: dict[str, list[str]] = json.loads(self.plan.read_text()) if self.plan.is_file() else {}
        for index, nodeid in enumerate(collection):
            unit, *needs = plan.get(nodeid, [""])
            self.unit_of.append(unit or f"test {index}")
            self.needs_of.append(frozenset(needs))

    def check_schedule(self, node: WorkerController, duration: float = 0) -> None:
        if node.shutting_down or self.collection is None:
            return
        batch: list[int] = []
        while len(self.node2pending[node]) + len(batch) < 2:  # a worker runs a test once it knows the next
            more = self._next_for(node, taken=set(batch))
            if not more:
                break
            batch += more
        if batch:
            sent = set(batch)
            self.pending[:] = [index for index in self.pending if index not in sent]
            self.node2pending[node].extend(batch)
            self.planes.setdefault(node, set()).update(*(self.needs_of[index] for index in batch))
            node.send_runtest_some(batch)
        if len(self.node2pending[node]) < 2 and not self._next_for(node, taken=set()):
            node.shutdown()  # nothing it may take is left: it runs what it has and ends

    def _may_take(self, node: WorkerController, needs: frozenset[str]) -> bool:
        # If every worker that may bring up a plane is gone (crashed), anyone may.
        return not needs or node in self.for_planes or not any(n in self.nodes for n in self.for_planes)

    def _next_for(self, node: WorkerController, taken: set[int]) -> list[int]:
        """The next unit for `node`: the largest it may take that needs a plane, else tests that need none,
        a few at a time (fewer as the run nears its end, so that the workers end together)."""
        units: dict[str, list[int]] = {}
        for index in self.pending:
            if index not in taken and self._may_take(node, self.needs_of[index]):
                units.setdefault(self.unit_of[index], []).append(index)
        if not units:
            return []
        needing = [unit for unit, indices in units.items() if self.needs_of[indices[0]]]
        if needing:
            has = self.planes.get(node, set())
            # Fewest new bring-ups, then the whole units (largest first), then single tests.
            best = min(
                needing,
                key=lambda unit: (
                    len(self.needs_of[units[unit][0]] - has),
                    unit.startswith("test "),
                    -len(units[unit]),
                ),
            )
            return units[best]
        free = [index for indices in units.values() for index in indices]
        chunk = max(1, min(16, len(free) // (4 * len(self.nodes))))
        return free[:chunk]
