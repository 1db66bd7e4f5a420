"""No object makes the shipped matchConditions expensive (issue 19 §1).

The conditions run inside the apiserver on every write of the kinds the rules name, before the object
is validated: on anything up to the apiserver's 3 MiB request limit, whose labels, annotations and
ownerReferences its author chooses. On a v1.36 apiserver the opt-out condition as it was (`split(",")`
of the annotation, then `exists()` over the entries) cost 23 s a write on a 200,000-character
annotation. Here, offline, with Google's CEL (cel-cpp):

- adversarial objects at the apiserver's limits: every condition evaluates, without error and within
  cel-cpp's iteration budget (10,000 turns of a comprehension; the old condition exceeded it from an
  annotation of about 20,000 characters), and sends exactly what the engine decides;
- growth: each adversarial object at 8 times the size takes about 8 times as long to evaluate
  (linear), never about 64 times (quadratic). Ratios within one run, with a wide margin: they say how
  the cost grows, not how fast this machine is.

cel-go's cost units, which the apiserver limits, are bounded in test_rendering (`_bound`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from cel_expr_python import cel

from mcp_admission.cli.config import load_config
from mcp_admission.policies import Operation, Phase, PolicyConfig, Request
from mcp_admission.policies.engine.workloads import (
    MAX_OWNER_REFERENCES,
    SKIP_ANNOTATION,
    TOOLHIVE_GROUP,
)

from .apiserver import ENVIRONMENT, admission_request, compile_conditions, sends
from .test_match_conditions import decided, webhooks
from .test_rendering import CONFIG

# apimachinery's ValidateObjectMeta: all annotations of an object, keys and values, in bytes; and the
# apiserver's request body limit (MaxRequestBodyBytes), which is all that bounds an object before it is
# validated, when the conditions run.
ANNOTATIONS_LIMIT = 256 * 1024
REQUEST_LIMIT = 3 * 1024 * 1024
LONGEST = ANNOTATIONS_LIMIT - len(SKIP_ANNOTATION)
# Quadratic growth at 8x the input is 64x; linear is 8x. Anything under this is linear with room for a
# noisy neighbour.
GROWTH_LIMIT = 24


def _service(
    *,
    name: str = "web",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    owners: list[dict[str, str]] | None = None,
) -> Request:
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    for key, value in (("labels", labels), ("annotations", annotations), ("ownerReferences", owners)):
        if value is not None:
            meta[key] = value
    obj = {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {}}
    return Request("", "v1", "Service", Operation.CREATE, "default", name, obj)


def _owner(kind: str = "StatefulSet", name: str = "other", api_version: str = "apps/v1") -> dict[str, str]:
    return {"apiVersion": api_version, "kind": kind, "name": name, "uid": "0b6c4d6e-0000"}


def _opt_out(value: str, labelled: bool = True) -> Request:
    return _service(labels={"toolhive": "true"} if labelled else None, annotations={SKIP_ANNOTATION: value})


def _labels(count: int, toolhive: bool) -> Request:
    labels = {f"example.com/label-{i}": "x" * 20 for i in range(count)}
    if toolhive:
        labels["toolhive"] = "true"
    return _service(labels=labels)


def _owners(count: int, mcp_last: bool = False) -> Request:
    """An unlabelled Service: the owner loop is what decides it."""
    owners = [_owner() for _ in range(count)]
    if mcp_last:
        owners[-1] = _owner(name="web-sts")
    return _service(name="mcp-web-sts", owners=owners)


def _long_names(length: int) -> Request:
    """The Service's name and its owners' names as long as they can be before validation: the loop
    builds "mcp-" + name and compares strings."""
    owner = "s" * length
    return _service(name="mcp-" + owner + "x", owners=[_owner(name=owner), _owner("MCPServer", owner, "v1")])


# Each adversarial family: size -> request. Sizes are characters, labels or ownerReferences.
FAMILIES: dict[str, Callable[[int], Request]] = {
    "many entries": lambda n: _opt_out("a," * (n // 2)),
    "empty entries": lambda n: _opt_out("," * n),
    "spaces, then no star": lambda n: _opt_out(" " * n),
    "stars, none alone": lambda n: _opt_out("*" * n),
    "spaces around a star, at the end": lambda n: _opt_out("\u3000, \t" * (n // 4) + " * "),
    "entries, unlabelled": lambda n: _opt_out("a, " * (n // 3), labelled=False),
    "labels": lambda n: _labels(n, toolhive=False),
    "labels, one ToolHive's": lambda n: _labels(n, toolhive=True),
    "ownerReferences": lambda n: _owners(n),
    "long names": _long_names,
}
# (small, 8x) for the growth test; the larger one is at the apiserver's limits.
SIZES: dict[str, tuple[int, int]] = {
    **dict.fromkeys(list(FAMILIES)[:6], (LONGEST // 8, LONGEST)),
    "labels": (5_000, 40_000),  # 40,000 labels of ~45 bytes: 1.8 MiB
    "labels, one ToolHive's": (5_000, 40_000),
    "ownerReferences": (7_500, 60_000),  # 60,000 of ~75 bytes: 4.3 MiB, past any request
    "long names": (REQUEST_LIMIT // 8, REQUEST_LIMIT),
}


@pytest.fixture(scope="module")
def config() -> PolicyConfig:
    return load_config(CONFIG)


@pytest.fixture(scope="module")
def compiled(config: PolicyConfig) -> dict[Phase, tuple[dict[str, Any], list[tuple[str, cel.Expression]]]]:
    return {phase: (hook, compile_conditions(hook)) for phase, hook in webhooks(config).items()}


def _agrees(compiled: dict[Phase, Any], config: PolicyConfig, request: Request) -> bool:
    """What the conditions send is what the engine decides, in both phases; None are errors."""
    return all(
        sends(hook, conditions, request) == decided(request, config, phase)
        for phase, (hook, conditions) in compiled.items()
    )


@pytest.mark.parametrize("family", list(FAMILIES))
def test_adversarial_objects_at_the_limits_are_decided_as_the_engine_decides(
    family: str, compiled: dict[Phase, Any], config: PolicyConfig
) -> None:
    request = FAMILIES[family](SIZES[family][1])
    assert _agrees(compiled, config, request), family


@pytest.mark.parametrize(
    ("request_", "sent"),
    [
        (_opt_out(" " * (LONGEST - 1) + "*"), False),  # a star after 256 KiB of spaces opts out
        (_opt_out("a," * (LONGEST // 2 - 1) + "*"), False),
        (_opt_out("a," * (LONGEST // 2)), True),
        (_opt_out("\x1c*"), True),  # not a space by Unicode's White_Space (str.strip() would say so)
        (_opt_out("\u2028\u00a0*\u3000,a"), False),
        (_owners(MAX_OWNER_REFERENCES, mcp_last=True), True),  # the loop's last turn recognises it
        (_owners(MAX_OWNER_REFERENCES + 1, mcp_last=True), False),  # past the bound: by labels only
        (_labels(60_000, toolhive=True), True),
    ],
    ids=[
        "star after spaces",
        "star after entries",
        "no star",
        "information separator",
        "unicode spaces",
        "owner at the bound",
        "owner past the bound",
        "60,000 labels",
    ],
)
def test_at_the_limits_the_answers_are_the_engines(
    request_: Request, sent: bool, compiled: dict[Phase, Any], config: PolicyConfig
) -> None:
    hook, conditions = compiled[Phase.MUTATE]
    assert sends(hook, conditions, request_) is sent
    assert decided(request_, config, Phase.MUTATE) is sent
    assert _agrees(compiled, config, request_)


def _evaluator(conditions: Sequence[tuple[str, cel.Expression]], request: Request) -> Callable[[int], float]:
    """A clock for evaluating every condition on one request: seconds for `times` evaluations. The
    activation (the Python object made CEL values) is built once and used once, outside the clock."""
    data = {"object": request.object, "oldObject": None, "request": admission_request(request)}
    activation = ENVIRONMENT.Activation(data=data)

    def evaluate(times: int) -> float:
        start = time.perf_counter()
        for _ in range(times):
            for _, expression in conditions:
                expression.eval(activation)
        return time.perf_counter() - start

    evaluate(1)
    return evaluate


@pytest.mark.parametrize("family", list(FAMILIES))
def test_evaluation_time_grows_linearly(family: str, compiled: dict[Phase, Any]) -> None:
    """At 8x the input, 8n evaluations of the small object against n of the large: linear growth makes
    them take the same time, quadratic makes the large ones 8 times slower. n is chosen so that a round
    takes a few milliseconds (a single evaluation of a constant-time condition is a microsecond, all
    clock noise); the best of five rounds each."""
    _, conditions = compiled[Phase.MUTATE]
    small, large = (_evaluator(conditions, FAMILIES[family](size)) for size in SIZES[family])
    times = 1
    while small(8 * times) < 0.005:
        times *= 2
    rounds = [(small(8 * times), large(times)) for _ in range(5)]
    ratio = 8 * min(big for _, big in rounds) / min(eight for eight, _ in rounds)
    assert ratio < GROWTH_LIMIT, f"{family}: 8x the input took {ratio:.1f}x the time"


def test_the_conditions_of_a_toolhive_resource_are_cheap_too(
    compiled: dict[Phase, Any], config: PolicyConfig
) -> None:
    """The validating webhook's only condition, on an MCPServer with the longest opt-out annotation."""
    obj = {
        "apiVersion": f"{TOOLHIVE_GROUP}/v1alpha1",
        "kind": "MCPServer",
        "metadata": {"name": "fetch", "annotations": {SKIP_ANNOTATION: "a," * (LONGEST // 2)}},
    }
    request = Request(TOOLHIVE_GROUP, "v1alpha1", "MCPServer", Operation.CREATE, "default", "fetch", obj)
    assert _agrees(compiled, config, request)
