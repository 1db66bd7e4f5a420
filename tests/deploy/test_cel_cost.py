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

from typing import Any

import pytest
from cel_expr_python import cel

from mcp_admission.cli.config import load_config
from mcp_admission.policies import Operation, Phase, PolicyConfig, Request
from mcp_admission.policies.engine.workloads import (
    MAX_OWNER_REFERENCES,
    MAX_SKIP_LENGTH,
    SKIP_ANNOTATION,
    TOOLHIVE_GROUP,
)

from .adversarial import (
    FAMILIES,
    LONGEST,
    SIZES,
    evaluator,
    with_labels,
    with_opt_out,
    with_owners,
)
from .apiserver import compile_conditions, sends
from .test_match_conditions import decided, webhooks
from .test_rendering import CONFIG

# Quadratic growth at 8x the input is 64x; linear is 8x. Anything under this is linear with room for a
# noisy neighbour.
GROWTH_LIMIT = 24
Hooks = dict[Phase, tuple[dict[str, Any], list[tuple[str, cel.Expression]]]]  # compiled, by phase


@pytest.fixture(scope="module")
def config() -> PolicyConfig:
    return load_config(CONFIG)


@pytest.fixture(scope="module")
def compiled(config: PolicyConfig) -> Hooks:
    return {phase: (hook, compile_conditions(hook)) for phase, hook in webhooks(config).items()}


def _agrees(compiled: Hooks, config: PolicyConfig, request: Request) -> bool:
    """What the conditions send is what the engine decides, in both phases; None are errors."""
    return all(
        sends(hook, conditions, request) == decided(request, config, phase)
        for phase, (hook, conditions) in compiled.items()
    )


@pytest.mark.parametrize("family", list(FAMILIES))
def test_adversarial_objects_at_the_limits_are_decided_as_the_engine_decides(
    family: str, compiled: Hooks, config: PolicyConfig
) -> None:
    request = FAMILIES[family](SIZES[family][1])
    assert _agrees(compiled, config, request), family


@pytest.mark.parametrize(
    ("request_", "sent"),
    [
        (with_opt_out(" " * (MAX_SKIP_LENGTH - 1) + "*"), False),  # a star after 1,023 spaces opts out
        (with_opt_out("a," * (MAX_SKIP_LENGTH // 2 - 1) + " *"), False),
        (with_opt_out("a," * (MAX_SKIP_LENGTH // 2) + "*"), True),  # 1,025 characters: read by neither
        (with_opt_out("a," * (LONGEST // 2 - 1) + "*"), True),
        (with_opt_out("a," * (LONGEST // 2)), True),
        (with_opt_out("\x1c*"), True),  # not a space by Unicode's White_Space (str.strip() would say so)
        (with_opt_out("\u2028\u00a0*\u3000,a"), False),
        (with_owners(MAX_OWNER_REFERENCES, mcp_last=True), True),  # the loop's last turn recognises it
        (with_owners(MAX_OWNER_REFERENCES + 1, mcp_last=True), False),  # past the bound: by labels only
        (with_labels(60_000, toolhive=True), True),
    ],
    ids=[
        "star after spaces, at the bound",
        "star after entries, at the bound",
        "star past the bound",
        "star after 256 KiB",
        "no star",
        "information separator",
        "unicode spaces",
        "owner at the bound",
        "owner past the bound",
        "60,000 labels",
    ],
)
def test_at_the_limits_the_answers_are_the_engines(
    request_: Request, sent: bool, compiled: Hooks, config: PolicyConfig
) -> None:
    hook, conditions = compiled[Phase.MUTATE]
    assert sends(hook, conditions, request_) is sent
    assert decided(request_, config, Phase.MUTATE) is sent
    assert _agrees(compiled, config, request_)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_evaluation_time_grows_linearly(family: str, compiled: Hooks) -> None:
    """At 8x the input, 8n evaluations of the small object against n of the large: linear growth makes
    them take the same time, quadratic makes the large ones 8 times slower. n is chosen so that a round
    takes a few milliseconds (a single evaluation of a constant-time condition is a microsecond, all
    clock noise); the best of five rounds each."""
    _, conditions = compiled[Phase.MUTATE]
    small, large = (evaluator(conditions, FAMILIES[family](size)) for size in SIZES[family])
    times = 1
    while small(8 * times) < 0.005:
        times *= 2
    rounds = [(small(8 * times), large(times)) for _ in range(5)]
    ratio = 8 * min(big for _, big in rounds) / min(eight for eight, _ in rounds)
    assert ratio < GROWTH_LIMIT, f"{family}: 8x the input took {ratio:.1f}x the time"


def test_the_conditions_of_a_toolhive_resource_are_cheap_too(compiled: Hooks, config: PolicyConfig) -> None:
    """The validating webhook's only condition, on an MCPServer with the longest opt-out annotation."""
    obj = {
        "apiVersion": f"{TOOLHIVE_GROUP}/v1alpha1",
        "kind": "MCPServer",
        "metadata": {"name": "fetch", "annotations": {SKIP_ANNOTATION: "a," * (LONGEST // 2)}},
    }
    request = Request(TOOLHIVE_GROUP, "v1alpha1", "MCPServer", Operation.CREATE, "default", "fetch", obj)
    assert _agrees(compiled, config, request)
