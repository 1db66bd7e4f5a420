"""What the shipped matchConditions cost per object, offline, in Google's CEL (issue 19 §1).

For each object: the time to evaluate every condition of the mutating webhook (what the apiserver does
on each write of a Service, StatefulSet, Deployment or ToolHive resource), against a trivial expression
(`has(object.metadata)`) on the same object in the same run; the ratio is the number to read. Typical
objects first, then adversarial ones at the apiserver's limits (tests/deploy/adversarial.py), then the
opt-out condition as it was before issue 19 on the same annotations. Also printed: the most each
condition can cost in cel-go's units, which the apiserver limits (1,000,000 per condition, 2,500,000
for all of a webhook's), as tests/deploy/test_rendering.py bounds it.

Then the same for the admission policies (`webhooks --admission-policies`, issue 19 §2): for each object,
every expression of every policy whose rules name its kind (matchConditions, variables, mutations,
validations and messages: all of them, as if each policy applied), and the most each policy can cost.

    .venv/bin/python bench/cel/bench_cel.py [--rounds 5]
    .venv/bin/python bench/cel/bench_cel.py --expressions DIR   # for bench/cel/celgo (cel-go) instead

With --expressions it only writes each condition of the mutating webhook to DIR/<name>.cel, and the
opt-out condition as it was before issue 19 to DIR/before-not-opted-out.cel.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from cel_expr_python import cel
from cel_expr_python.ext import ext_strings

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mcp_admission.cli.config import load_config  # noqa: E402
from mcp_admission.deploy import webhook_configurations  # noqa: E402
from mcp_admission.deploy.admission_policies import admission_policies  # noqa: E402
from mcp_admission.policies import Request  # noqa: E402
from mcp_admission.policies.engine.workloads import MAX_OWNER_REFERENCES, MAX_SKIP_LENGTH  # noqa: E402
from tests.deploy import adversarial as adv  # noqa: E402
from tests.deploy import policy_admission as pa  # noqa: E402
from tests.deploy.apiserver import ENVIRONMENT, admission_request, compile_conditions, rules_match  # noqa: E402  # noqa: E402
from tests.deploy.test_rendering import CONFIG, _bound, _expressions, _policy_bound  # noqa: E402
from tests.policies.toolhive_objects import (  # noqa: E402
    backend_service,
    backend_statefulset,
    mcpserver_like,
    proxy_service,
    request_for,
)

Conditions = Sequence[tuple[str, cel.Expression]]
TARGET_SECONDS = 0.02  # each timed batch: long enough that the clock's resolution does not matter


def _objects() -> list[tuple[str, Request]]:
    typical = [
        ("ordinary Service (2 labels)", adv.service(labels={"app": "web", "tier": "front"})),
        ("ToolHive proxy Service mcp-X-proxy", request_for(proxy_service("fetch"))),
        ("ToolHive backend Service (owner rule)", request_for(backend_service("fetch", headless=True))),
        ("ToolHive backend StatefulSet", request_for(backend_statefulset("fetch", transport="stdio"))),
        ("MCPServer", request_for(mcpserver_like("MCPServer", "fetch"))),
    ]
    read = MAX_SKIP_LENGTH
    adversarial = [
        ("opt-out 'a,a,…' of 1,024 characters (the most read)", adv.with_opt_out("a," * (read // 2))),
        ("opt-out of 1,024 spaces, no star", adv.with_opt_out(" " * read)),
        ("opt-out 'a,a,…' of 256 KiB (not read)", adv.with_opt_out("a," * (adv.LONGEST // 2))),
        ("60,000 labels (3 MiB)", adv.with_labels(60_000, toolhive=False)),
        (f"{MAX_OWNER_REFERENCES} ownerReferences (the loop's most)", adv.with_owners(MAX_OWNER_REFERENCES)),
        ("40,000 ownerReferences (3 MiB)", adv.with_owners(40_000)),
        (
            "an owner's name of 1.5 MiB",
            adv.service(name="mcp-web", owners=[adv.reference(name="s" * 1_500_000)]),
        ),
        ("the Service's and owners' names of 3 MiB", adv.with_long_names(adv.REQUEST_LIMIT)),
    ]
    return typical + adversarial


def _per_evaluation(clock: Callable[[int], float], rounds: int) -> float:
    times = 1
    while clock(times) < TARGET_SECONDS:
        times *= 2
    return min(clock(times) for _ in range(rounds)) / times


def _row(name: str, conditions: Conditions, baseline: Conditions, request: Request, rounds: int) -> str:
    ours, trivial = adv.evaluator(conditions, request), adv.evaluator(baseline, request)
    cost, base = _per_evaluation(ours, rounds), _per_evaluation(trivial, rounds)
    return f"| {name} | {base * 1e6:,.2f} | {cost * 1e6:,.2f} | {cost / base:,.1f} |"


def _before(request: Request, rounds: int) -> str:
    """The opt-out condition before issue 19 (split, trim: the strings extension) on the same object."""
    env = cel.NewEnv(
        variables={"object": cel.Type.DYN, "oldObject": cel.Type.DYN, "request": cel.Type.DYN},
        extensions=[ext_strings.ExtStrings(2)],
    )
    conditions = [("before", env.compile(adv.BEFORE))]
    try:
        seconds = _per_evaluation(adv.evaluator(conditions, request), rounds)
    except RuntimeError as exc:  # cel-cpp's comprehension budget (10,000 turns)
        return f"error: {str(exc).split(':')[1].strip()}"
    return f"{seconds * 1e6:,.2f} µs"


def _policies_clock(policies: pa.CompiledSet, request: Request) -> Callable[[int], float]:
    """A clock for every expression of the policies whose rules name the request's kind, on one
    activation (their variables computed once, outside the clock, as the values the expressions read)."""
    compiled = [p for p in policies.mutating + [v for v, _ in policies.validating]
                if rules_match({"rules": p.constraints["resourceRules"]}, request)]  # fmt: skip
    data = {"object": request.object, "oldObject": request.old_object, "request": admission_request(request)}
    variables: dict[str, object] = {}
    for policy in compiled:
        variables.update(pa.bind(request, request.object, policy)["variables"])
    activation = pa.ENVIRONMENT.Activation(data={**data, "variables": variables})
    expressions = [
        e
        for p in compiled
        for e in [*(c for _, c in p.conditions), *(v for _, v in p.variables), *p.mutations,
                  *(x for v, _, m in p.validations for x in (v, m) if x is not None)]
    ]  # fmt: skip

    def evaluate(times: int) -> float:
        start = time.perf_counter()
        for _ in range(times):
            for expression in expressions:
                expression.eval(activation)
        return time.perf_counter() - start

    evaluate(1)
    return evaluate


def _policy_rows(rounds: int) -> None:
    rendered = admission_policies(load_config(CONFIG))
    policies = pa.compile_all(rendered)
    print(
        "Most each admission policy can cost, in cel-go units"
        " (1,000,000 each expression, 10,000,000 a policy):"
    )
    for obj in rendered:
        if not obj["kind"].endswith("Binding"):
            total = sum(_policy_bound(e) for _, e in _expressions(obj["spec"]))
            print(f"  {obj['kind']} {obj['metadata']['name']}: {total:,}")
    print()
    print("| object | trivial expression, µs | the policies' expressions, µs | ratio |")
    print("|---|---|---|---|")
    baseline = [("trivial", ENVIRONMENT.compile("has(object.metadata)"))]
    for name, request in _objects():
        ours = _per_evaluation(_policies_clock(policies, request), rounds)
        base = _per_evaluation(adv.evaluator(baseline, request), rounds)
        print(f"| {name} | {base * 1e6:,.2f} | {ours * 1e6:,.2f} | {ours / base:,.1f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="best of this many timed batches")
    parser.add_argument("--expressions", type=Path, help="write the expressions here, measure nothing")
    args = parser.parse_args()

    mutating, _ = webhook_configurations(load_config(CONFIG))
    (hook,) = mutating["webhooks"]
    if args.expressions:
        args.expressions.mkdir(parents=True, exist_ok=True)
        for condition in hook["matchConditions"]:
            (args.expressions / f"{condition['name']}.cel").write_text(condition["expression"])
        (args.expressions / "before-not-opted-out.cel").write_text(adv.BEFORE)
        return
    conditions = compile_conditions(hook)
    baseline = [("trivial", ENVIRONMENT.compile("has(object.metadata)"))]

    print("Most each condition can cost, in cel-go units (limit 1,000,000 each, 2,500,000 together):")
    for condition in hook["matchConditions"]:
        print(f"  {condition['name']}: {_bound(condition['expression']):,}")
    print()
    print("| object | trivial expression, µs | the conditions, µs | ratio |")
    print("|---|---|---|---|")
    for name, request in _objects():
        print(_row(name, conditions, baseline, request, args.rounds), flush=True)
    print()
    print("The opt-out condition before issue 19 (split + trim), same annotations:")
    for length in (1_000, 16_000, adv.LONGEST):
        request = adv.with_opt_out("a," * (length // 2))
        print(f"  'a,a,…' of {length:,} characters: {_before(request, args.rounds)}")
    print()
    _policy_rows(args.rounds)


if __name__ == "__main__":
    main()
