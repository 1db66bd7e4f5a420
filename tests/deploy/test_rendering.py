"""The shipped webhook configurations are the rendering of the shipped configuration file, and every
rendering is one the apiserver accepts: admissionregistration.k8s.io/v1's schema, at most 64
matchConditions with unique qualified names, CEL that type-checks to bool with only the variables,
request fields and functions the apiserver has had since 1.30, and a cost far under its limits.

The Kubernetes test control plane is v1.20, which knows no matchConditions: the modern configurations
are checked here, offline (the legacy ones also end to end, in tests/e2e).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
import yaml
from hypothesis import given, settings

from mcp_admission.cli.config import load_config
from mcp_admission.deploy import webhook_configurations
from mcp_admission.names import check_label_key
from mcp_admission.policies import API_RESOURCES as RESOURCES
from mcp_admission.policies import PolicyConfig
from mcp_admission.policies.engine.workloads import (
    CORE_KINDS,
    MAX_OWNER_REFERENCES,
    MCP_RESOURCE_KINDS,
    TOOLHIVE_GROUP,
)
from mcp_admission.records import validate
from tests.check.runner import console_script, in_process
from tests.support import share_of_profile

from .adversarial import BEFORE
from .apiserver import ENVIRONMENT, compile_conditions
from .test_match_conditions import configs

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "base" / "config.yaml"
SHIPPED = {
    False: ROOT / "deploy" / "components" / "webhooks" / "webhooks.yaml",
    True: ROOT / "deploy" / "components" / "legacy" / "webhooks.yaml",
}

# staging/src/k8s.io/apiserver/pkg/admission/plugin/cel/compile.go, BuildRequestType: the fields of
# `request` (object-typed ones with theirs); a path outside these fails the apiserver's type check.
REQUEST_FIELDS: dict[str, frozenset[str]] = {
    "kind": frozenset({"group", "version", "kind"}),
    "resource": frozenset({"group", "version", "resource"}),
    "requestKind": frozenset({"group", "version", "kind"}),
    "requestResource": frozenset({"group", "version", "resource"}),
    "userInfo": frozenset({"username", "uid", "groups", "extra"}),
    **dict.fromkeys(
        ("subResource", "requestSubResource", "name", "namespace", "operation", "dryRun", "options"),
        frozenset(),
    ),
}
# Functions and macros in the apiserver's environment long before 1.30: CEL's standard library only.
FUNCTIONS = frozenset({"has", "type", "size", "exists", "startsWith", "matches"})
# staging/src/k8s.io/apiserver/pkg/apis/cel/config.go: per expression, and per webhook for all its
# matchConditions together (RuntimeCELCostBudgetMatchConditions).
PER_CALL_LIMIT, MATCH_CONDITIONS_BUDGET = 1_000_000, 2_500_000
MAX_CONDITIONS = 64  # admissionregistration validation
TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|[A-Za-z_]\w*|&&|\|\||[=!<]=|[-+!?:<>\[\](),.]|\d+')
STORED_LIMIT = 1_572_864  # etcd's --max-request-bytes default: the largest object stored
FREE = frozenset("(),.:]")  # punctuation: no evaluation step of its own
LOOP_BOUND = re.compile(r"size\(object\.metadata\.(\w+)\) <= (\d+)\s*&&\s*object\.metadata\.\1\.exists\(")


def _costs(expression: str) -> tuple[int, dict[str, int]]:
    """A rough cel-go cost: one unit per identifier, field, literal, operator or call (punctuation
    free; cel-go charges has() nothing and literals nothing, so this overestimates), and for each
    exists() one iteration's cost. Returns (cost outside the loops, {what is iterated: cost a turn})."""
    tokens = TOKEN.findall(expression)
    outside = sum(t not in FREE for t in tokens)
    loops: dict[str, int] = {}
    for index, token in enumerate(tokens):
        if token != "exists":
            continue
        depth, end = 0, index + 1
        for end in range(index + 1, len(tokens)):
            depth += {"(": 1, ")": -1}.get(tokens[end], 0)
            if depth == 0:
                break
        body = sum(t not in FREE for t in tokens[index + 1 : end])
        ranged = tokens[index - 2] if tokens[index - 1] == "." else ")"  # ")": a computed list
        loops[ranged] = loops.get(ranged, 0) + body + 2  # the body, the loop condition, the step
        outside -= body
    return outside, loops


def _matches_costs(expression: str) -> int:
    """cel-go's runtime cost of the matches() calls (interpreter/runtimecost.go): ceil((1 + the text's
    length) * 0.1) * ceil(the pattern's length * 0.25), lengths in runes. The text must be the opt-out
    annotation, its size() bounded first."""
    cost = 0
    for match in re.finditer(r'((?:\w+\.)*(\w+)\["[^"]*"\])\.matches\(("(?:\\.|[^"\\])*")\)', expression):
        text, field, quoted = match.groups()
        assert field == "annotations", f"matches() on something else: {match.group(0)}"
        bound = re.search(
            rf"size\({re.escape(text)}\) <= (\d+)\s*&&\s*{re.escape(match.group(0))}", expression
        )
        assert bound, f"matches() on a string of unbounded length: {match.group(0)}"
        pattern = ENVIRONMENT.compile(quoted).eval().value()  # the literal, as CEL reads it
        cost += math.ceil((1 + int(bound.group(1))) * 0.1) * math.ceil(len(pattern) * 0.25)
    return cost


def _bound(expression: str) -> int:
    """The most the expression can cost on an object the apiserver accepts. A loop must be over a list
    whose size() the expression bounds first; none may be over a list it computes (a split string).
    In the owner loop, string functions cost cel-go 0.1 a character: it reads each reference's
    apiVersion once (startsWith) and puts names together only when shorter than the Service's own (at
    most 63 characters): at most 0.1 a character of the whole object, which etcd caps at 1.5 MiB."""
    outside, loops = _costs(expression)
    bounds = {name: int(size) for name, size in LOOP_BOUND.findall(expression)}
    assert loops.keys() <= bounds.keys(), f"a loop over something unbounded: {loops}"
    strings = math.ceil(STORED_LIMIT * 0.1) if loops else 0
    looped = sum(bounds[name] * cost for name, cost in loops.items())
    return outside + _matches_costs(expression) + looped + strings


def _api_fields(expression: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"\brequest((?:\.\w+)+)", expression)}


def check_accepted(configuration: dict[str, Any]) -> None:
    """What the apiserver would check of one rendered configuration, and what we promise of it."""
    api = kubernetes.client.ApiClient()
    model = api.deserialize(json.dumps(configuration), f"V1{configuration['kind']}", "application/json")
    # Unknown fields are dropped by the models; required fields and types are checked by them.
    serialized = api.sanitize_for_serialization(model)  # type: ignore[no-untyped-call]
    assert serialized == configuration, "a field admissionregistration/v1 lacks"
    (hook,) = configuration["webhooks"]
    for rule in hook["rules"]:
        assert rule["scope"] == "Namespaced" and set(rule["operations"]) <= {"CREATE", "UPDATE"}
        assert not any(
            "*" in v or "/" in v for key in ("apiGroups", "apiVersions", "resources") for v in rule[key]
        )
    conditions = hook.get("matchConditions", [])
    assert len(conditions) <= MAX_CONDITIONS
    names = [c["name"] for c in conditions]
    assert len(set(names)) == len(names) and all(check_label_key(n) for n in names)
    compile_conditions(hook)  # each compiles, to bool, with object, oldObject and request only
    total = 0
    for condition in conditions:
        expression = condition["expression"]
        assert set(re.findall(r"(\w+)\s*\(", expression)) <= FUNCTIONS, expression
        for path in _api_fields(expression):
            field, *sub = path.strip(".").split(".")
            assert field in REQUEST_FIELDS and set(sub) <= REQUEST_FIELDS[field], path
        cost = _bound(expression)
        assert cost <= PER_CALL_LIMIT, (condition["name"], cost)
        total += cost
    assert total <= MATCH_CONDITIONS_BUDGET, total


@pytest.mark.parametrize("legacy", [False, True], ids=["default", "legacy"])
def test_the_shipped_configurations_are_the_rendering_of_the_shipped_configuration(
    legacy: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # in this process (the console script's run: the bad configuration's test)
    args = ["webhooks", "--config", str(CONFIG.relative_to(ROOT)), *(["--legacy"] if legacy else [])]
    proc = in_process(*args)
    assert proc.code == 0, proc.stderr
    shipped = SHIPPED[legacy]
    assert shipped.read_text() == proc.stdout, (
        f"{shipped.relative_to(ROOT)} is not the rendering of {CONFIG.relative_to(ROOT)} (a policy or "
        f"the configuration changed?): mcp-admission {' '.join(args)} > {shipped.relative_to(ROOT)}"
    )


def test_a_bad_configuration_renders_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "config.yaml"
    bad.write_text("workloads:\n  optInLabel: 'not a label key!'\n")
    proc = subprocess.run(
        [console_script(), "webhooks", "--config", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert (proc.returncode, proc.stdout) == (2, "")
    assert "optInLabel" in proc.stderr or "opt_in_label" in proc.stderr, proc.stderr


@pytest.mark.parametrize("legacy", [False, True], ids=["default", "legacy"])
def test_the_shipped_configurations_are_accepted(legacy: bool) -> None:
    for configuration in webhook_configurations(load_config(CONFIG), legacy=legacy):
        check_accepted(configuration)
        (hook,) = configuration["webhooks"]
        keys = {e["key"] for e in hook["namespaceSelector"]["matchExpressions"]}
        # The default install writes no label on any namespace: it leaves them out by name alone.
        assert keys == (
            {"mcp-admission.io/ignore", "kubernetes.io/metadata.name"}
            if legacy
            else {"kubernetes.io/metadata.name"}
        )
        assert ("matchConditions" in hook) is not legacy


def test_a_large_configuration_stays_within_the_limits() -> None:
    """Twenty selectors of every form: the cost grows with the configuration, and stays far inside."""
    expressions = [
        {"key": f"k{i}", "operator": op, **({"values": ["a", "b"]} if op in ("In", "NotIn") else {})}
        for i, op in enumerate(("In", "NotIn", "Exists", "DoesNotExist"))
    ]
    selectors = [
        {"kinds": ["Service", "StatefulSet"], "namespaces": [f"ns{i}"], "matchLabels": {f"app{i}": "mcp"},
         "matchExpressions": expressions}
        for i in range(20)
    ]  # fmt: skip
    config = validate(PolicyConfig, {"workloads": {"selectors": selectors}})
    for configuration in webhook_configurations(config):
        check_accepted(configuration)
    (mutating, _) = webhook_configurations(config)
    recognition = mutating["webhooks"][0]["matchConditions"][0]["expression"]
    assert _costs(recognition)[0] < PER_CALL_LIMIT / 100  # what does not loop is under 1% of the limit


@settings(max_examples=share_of_profile(0.6), deadline=None)
@given(configs)
def test_every_configuration_renders_configurations_the_apiserver_accepts(config: PolicyConfig) -> None:
    for legacy in (False, True):
        for configuration in webhook_configurations(config, legacy=legacy):
            check_accepted(configuration)


def test_the_cost_bound_counts_the_loops() -> None:
    """The estimate itself: the owner loop is found, priced per turn and bounded by the expression; the
    opt-out is one match(), priced as cel-go prices it on the longest annotation it reads."""
    (mutating, _) = webhook_configurations(PolicyConfig())
    by_name = {c["name"]: c["expression"] for c in mutating["webhooks"][0]["matchConditions"]}
    outside, loops = _costs(by_name["mcp-workload"])
    assert loops.keys() == {"ownerReferences"} and 20 < loops["ownerReferences"] < 150 and outside < 300
    assert LOOP_BOUND.findall(by_name["mcp-workload"]) == [("ownerReferences", str(MAX_OWNER_REFERENCES))]
    # 100 turns of at most 150, and 0.1 a character of the largest object: a fifth of the limit.
    assert (
        _bound(by_name["mcp-workload"]) < outside + 150 * MAX_OWNER_REFERENCES + 157_287 < PER_CALL_LIMIT / 5
    )
    outside, loops = _costs(by_name["not-opted-out"])
    assert not loops and outside < 60
    # ceil(1025 * 0.1) * ceil(49 * 0.25), for an annotation of MAX_SKIP_LENGTH characters.
    assert _matches_costs(by_name["not-opted-out"]) == 103 * 13 < PER_CALL_LIMIT / 500


def test_the_cost_bound_refuses_a_loop_over_a_split_string() -> None:
    """What the opt-out condition was before issue 19: linear in cel-go's cost units, superlinear in its
    time (23 s a write on a 200,000-character annotation). The bound refuses it outright."""
    with pytest.raises(AssertionError, match="unbounded"):
        _bound(BEFORE)
    with pytest.raises(AssertionError, match="unbounded"):
        _bound("object.metadata.ownerReferences.exists(r, r.kind == 'StatefulSet')")
    with pytest.raises(AssertionError, match="unbounded length"):
        _bound('object.metadata.annotations["x"].matches("[*]")')


def test_every_kind_a_policy_may_read_has_its_resource() -> None:
    served = {(group, kind) for kind, (group, _, _) in RESOURCES.items()}
    assert served == set(CORE_KINDS) | {(TOOLHIVE_GROUP, kind) for kind in MCP_RESOURCE_KINDS}


# --------------------------------------------------------------- the admission policies (issue 19 §2)

POLICIES_SHIPPED = ROOT / "deploy" / "overlays" / "admission-policies" / "admission-policies.yaml"
# staging/src/k8s.io/apiserver/pkg/apis/cel/config.go: RuntimeCELCostBudget, for one evaluation of a
# policy (all its expressions together); PerCallLimit (above) for each.
POLICY_BUDGET = 10_000_000
POLICY_FUNCTIONS = FUNCTIONS | {"all", "filter", "string"}
ANY_LOOP_BOUND = re.compile(r"size\(((?:\w+\.)*(\w+))\) <= (\d+)\s*(?:&&|\?)\s*\1\.(?:exists|all|filter)\(")
CEL_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
WANT_LENGTH = 63  # variables.want: a Service name, built only when it fits (admission_policies.py)
MODELS = {
    "MutatingAdmissionPolicy": "V1MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding": "V1MutatingAdmissionPolicyBinding",
    "ValidatingAdmissionPolicy": "V1ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding": "V1ValidatingAdmissionPolicyBinding",
}


def _loop_costs(expression: str) -> tuple[int, dict[str, int]]:
    """_costs for every comprehension the policies use (exists, all, filter)."""
    return _costs(re.sub(r"\.(all|filter)\(", ".exists(", expression))


def _policy_bound(expression: str) -> int:
    """_bound for a policy's expression: each loop bounded by a size() test before it; matches() on the
    opt-out annotation (bounded) or on variables.want (a Service name, at most 63 characters); string
    functions at most 0.1 a character of the largest object."""
    outside, loops = _loop_costs(expression)
    bounds = {name: int(size) for _, name, size in ANY_LOOP_BOUND.findall(expression)}
    assert loops.keys() <= bounds.keys(), f"a loop over something unbounded: {loops} in {expression}"
    looped = sum(bounds[name] * cost for name, cost in loops.items())
    matches = _matches_costs(expression.replace("variables.want.matches(", "WANT("))
    for quoted in re.findall(r'variables\.want\.matches\(("(?:\\.|[^"\\])*")\)', expression):
        pattern = ENVIRONMENT.compile(quoted).eval().value()
        matches += math.ceil((1 + WANT_LENGTH) * 0.1) * math.ceil(len(pattern) * 0.25)
    assert expression.count(".matches(") == len(
        re.findall(r"\]\.matches\(|variables\.want\.matches\(", expression)
    )
    return outside + looped + matches + math.ceil(STORED_LIMIT * 0.1)


# A list literal of plain literals: the apiserver's CEL wants them all of one type.
LIST_LITERAL = re.compile(r"\[((?:[^\[\]()]|\[\])*)\]")
LITERAL_KINDS = {
    "string": r'"(?:\\.|[^"\\])*"',
    "number": r"-?\d+(?:\.\d+)?",
    "null": "null",
    "bool": "true|false",
}


def _homogeneous(expression: str) -> None:
    """Every list literal of plain literals holds one kind of them (HomogeneousAggregateLiterals, which
    Kubernetes' CEL environment sets and cel-expr-python cannot)."""
    for match in LIST_LITERAL.finditer(expression):
        items = [
            item.strip() for item in re.split(r',(?=(?:[^"]*"[^"]*")*[^"]*$)', match.group(1)) if item.strip()
        ]
        kinds = {
            kind for item in items for kind, pattern in LITERAL_KINDS.items() if re.fullmatch(pattern, item)
        }
        assert len(kinds) <= 1, f"a list literal of mixed types: {match.group(0)}"


def _expressions(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(what, expression) for every CEL expression of a policy's spec."""
    found = [(c["name"], c["expression"]) for c in spec.get("matchConditions", ())]
    found += [(f"variables.{v['name']}", v["expression"]) for v in spec.get("variables", ())]
    found += [("mutation", m["jsonPatch"]["expression"]) for m in spec.get("mutations", ())]
    for validation in spec.get("validations", ()):
        found.append(("validation", validation["expression"]))
        if "messageExpression" in validation:
            found.append(("messageExpression", validation["messageExpression"]))
    return found


def check_policy_accepted(obj: dict[str, Any]) -> None:
    """What the apiserver checks of a rendered policy or binding (its v1 schema, names, CEL that
    compiles), and what we promise: standard functions, request fields it has, each expression far
    under the per-call limit and all of a policy's under its budget."""
    from .policy_admission import compile_policy

    api = kubernetes.client.ApiClient()
    model = api.deserialize(json.dumps(obj), MODELS[obj["kind"]], "application/json")
    serialized = api.sanitize_for_serialization(model)  # type: ignore[no-untyped-call]
    assert serialized == obj, "a field admissionregistration/v1 lacks"
    assert obj["apiVersion"] == "admissionregistration.k8s.io/v1"
    spec = obj["spec"]
    if obj["kind"].endswith("Binding"):
        assert spec["policyName"] == obj["metadata"]["name"]
        assert set(spec.get("validationActions", ["Warn"])) <= {"Warn", "Deny"}
        return
    for rule in spec["matchConstraints"]["resourceRules"]:
        assert rule["scope"] == "Namespaced" and set(rule["operations"]) <= {"CREATE", "UPDATE"}
    conditions = spec["matchConditions"]
    names = [c["name"] for c in conditions]
    assert len(conditions) <= MAX_CONDITIONS and len(set(names)) == len(names)
    assert all(check_label_key(n) for n in names)
    assert all(CEL_IDENTIFIER.fullmatch(v["name"]) for v in spec.get("variables", ()))
    for validation in spec.get("validations", ()):
        # Required when the expression spans lines; never one of its own.
        assert validation["message"] and "\n" not in validation["message"]
    if obj["kind"] == "MutatingAdmissionPolicy":
        assert spec["reinvocationPolicy"] == "IfNeeded" and spec["mutations"]
        assert all(m["patchType"] == "JSONPatch" for m in spec["mutations"])
    compile_policy(obj)  # every expression compiles (as bool where the apiserver demands it)
    total = 0
    for what, expression in _expressions(spec):
        assert set(re.findall(r"(\w+)\s*\(", expression)) <= POLICY_FUNCTIONS | {"JSONPatch"}, what
        for path in _api_fields(expression):
            field, *sub = path.strip(".").split(".")
            assert field in REQUEST_FIELDS and set(sub) <= REQUEST_FIELDS[field], path
        _homogeneous(expression)
        cost = _policy_bound(expression)
        assert cost <= PER_CALL_LIMIT, (obj["metadata"]["name"], what, cost)
        total += cost
    assert total <= POLICY_BUDGET, (obj["metadata"]["name"], total)


def test_the_shipped_admission_policies_are_the_rendering_of_the_shipped_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    args = ["webhooks", "--admission-policies", "--config", str(CONFIG.relative_to(ROOT))]
    proc = in_process(*args)
    assert proc.code == 0, proc.stderr
    assert POLICIES_SHIPPED.read_text() == proc.stdout, (
        f"{POLICIES_SHIPPED.relative_to(ROOT)} is not the rendering of {CONFIG.relative_to(ROOT)}: "
        f"mcp-admission {' '.join(args)} > {POLICIES_SHIPPED.relative_to(ROOT)}"
    )


def test_the_shipped_admission_policies_are_accepted() -> None:
    from mcp_admission.deploy.admission_policies import admission_policies

    from .policy_admission import bindings_match

    rendered = admission_policies(load_config(CONFIG))
    assert {o["kind"] for o in rendered} == set(MODELS)
    assert bindings_match(rendered)
    for obj in rendered:
        check_policy_accepted(obj)


@settings(max_examples=share_of_profile(0.3), deadline=None)
@given(configs)
def test_every_configuration_renders_admission_policies_the_apiserver_accepts(config: PolicyConfig) -> None:
    from mcp_admission.deploy.admission_policies import admission_policies

    for obj in admission_policies(config):
        check_policy_accepted(obj)


def test_the_policy_cost_bound_counts_every_loop() -> None:
    """The estimate on the policies' own loops: filter over the owners, all over matchLabels, each bounded;
    a loop without its size() test first is refused."""
    from mcp_admission.deploy.admission_policies import admission_policies

    rendered = {(o["kind"], o["metadata"]["name"]): o["spec"] for o in admission_policies(PolicyConfig())}
    affinity = dict(_expressions(rendered[("MutatingAdmissionPolicy", "mcp-session-affinity")]))
    assert _loop_costs(affinity["variables.controllers"])[1].keys() == {"owners"}
    dns = dict(_expressions(rendered[("MutatingAdmissionPolicy", "mcp-statefulset-dns")]))
    assert _loop_costs(dns["variables.labelsOk"])[1].keys() == {"matchLabels"}
    assert _policy_bound(dns["variables.valid"]) > math.ceil(STORED_LIMIT * 0.1)  # its matches() priced
    with pytest.raises(AssertionError, match="unbounded"):
        _policy_bound("object.spec.selector.matchLabels.all(k, k != '')")
    with pytest.raises(AssertionError, match="mixed types"):
        _homogeneous('object.x in [null, false, 0, "", [], {}]')
    _homogeneous('object.x in ["a", "b, c"] && [1, 2][0] == 1')
    with pytest.raises(AssertionError, match="unbounded"):
        _policy_bound("size(variables.owners) <= 100 ? object.metadata.ownerReferences.filter(r, true) : []")


def test_the_admission_policies_overlay_has_no_webhook() -> None:
    """deploy/overlays/admission-policies: the reconciler and the policies, nothing of the webhook."""
    from tests.e2e.harness import render

    objects = render("overlays/admission-policies")
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert not {k for k in kinds if "webhook" in k[1] or k[0].endswith("WebhookConfiguration")}
    assert ("Service", "mcp-admission") not in kinds
    assert ("Deployment", "mcp-admission-reconciler") in kinds
    shipped = [d for d in yaml.safe_load_all(POLICIES_SHIPPED.read_text()) if d]
    installed = {json.dumps(o, sort_keys=True) for o in objects if o["kind"] in MODELS}
    assert installed == {json.dumps(o, sort_keys=True) for o in shipped}
