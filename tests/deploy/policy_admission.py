"""What the apiserver does with our MutatingAdmissionPolicies and ValidatingAdmissionPolicies, offline: the
matchConstraints, the matchConditions, the variables, each mutation's JSONPatch applied in turn, and the
validations judged on the object every mutation has made.

The CEL is Google's cel-cpp (cel-expr-python), as for the matchConditions (tests/deploy/apiserver.py says
why). What it cannot know is the apiserver's own CEL types, and here is how the gap is closed:

- `JSONPatch{op: "...", path: "...", value: V}` (a type the apiserver declares for jsonPatch
  expressions) is read as the map `{"op": "...", "path": "...", "value": V}`: the renderer writes every
  JSONPatch in exactly that form, with literal op and path, so the rewrite is textual and total (a
  JSONPatch left over fails the compile). The list the expression returns is then applied with RFC 6902
  (the `jsonpatch` library), as the apiserver applies it (evanphx/json-patch); a value that is not JSON,
  an operation on a missing parent, or any other failure fails the test.
- `variables` (lazily evaluated in the apiserver) is a map bound after evaluating each variable in order;
  none may fail, so eager evaluation gives the same values.
- `object` is bound untyped, as the apiserver binds it at run time (unstructured JSON); the apiserver's
  type check against the resource's OpenAPI schema is informational for policies (status.typeChecking),
  and every field read is guarded by has() and type() anyway.
- Not simulated: the apiserver's defaulting and schema validation after the mutations; cel-go's cost
  accounting (bounded statically in test_rendering).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jsonpatch
from cel_expr_python import cel

from mcp_admission.policies import Request

from .apiserver import admission_request, namespace_matches, rules_match

Obj = dict[str, Any]
ENVIRONMENT = cel.NewEnv(
    variables={
        "object": cel.Type.DYN,
        "oldObject": cel.Type.DYN,
        "request": cel.Type.DYN,
        "variables": cel.Type.DYN,
    }
)
_JSON_PATCH = re.compile(r'JSONPatch\{op: ("[a-z]+"), path: ("[^"\\]*"), value: ')


class PolicyError(AssertionError):
    """An expression did not compile, failed, or returned what the apiserver would refuse."""


def as_plain_cel(expression: str) -> str:
    """The expression with each JSONPatch literal as a map literal (see the module's docstring)."""
    plain = _JSON_PATCH.sub(r'{"op": \1, "path": \2, "value": ', expression)
    if "JSONPatch" in plain:
        raise PolicyError(f"a JSONPatch not in the renderer's form: {expression}")
    return plain


class Compiled(NamedTuple):
    name: str
    kind: str
    constraints: Obj
    conditions: list[tuple[str, cel.Expression]]
    variables: list[tuple[str, cel.Expression]]
    mutations: list[cel.Expression]
    validations: list[tuple[cel.Expression, str, cel.Expression | None]]


def _compile(expression: str, want: cel.Type | None, what: str) -> cel.Expression:
    try:
        compiled = ENVIRONMENT.compile(as_plain_cel(expression))
    except Exception as exc:
        raise PolicyError(f"{what} does not compile: {exc}") from None
    if want is not None and compiled.return_type() != want:
        raise PolicyError(f"{what} is {compiled.return_type().name()}, not {want.name()}")
    return compiled


def compile_policy(policy: Obj) -> Compiled:
    spec, name = policy["spec"], policy["metadata"]["name"]
    return Compiled(
        name,
        policy["kind"],
        spec["matchConstraints"],
        [(c["name"], _compile(c["expression"], cel.Type.BOOL, c["name"])) for c in spec["matchConditions"]],
        [(v["name"], _compile(v["expression"], None, v["name"])) for v in spec.get("variables", ())],
        [_compile(m["jsonPatch"]["expression"], None, name) for m in spec.get("mutations", ())],
        [
            (
                _compile(v["expression"], cel.Type.BOOL, name),
                v["message"],
                _compile(v["messageExpression"], cel.Type.STRING, name) if "messageExpression" in v else None,
            )
            for v in spec.get("validations", ())
        ],
    )


def _eval(expression: cel.Expression, data: Obj, what: str) -> Any:
    value = expression.eval(data=data)
    if value.type() == cel.Type.ERROR:
        raise PolicyError(f"{what} failed: {value.value()}")
    return value.plain_value()


def bind(request: Request, current: Any, policy: Compiled) -> Obj:
    data: Obj = {"object": current, "oldObject": request.old_object, "request": admission_request(request)}
    variables: Obj = {}
    data["variables"] = variables
    for name, expression in policy.variables:
        variables[name] = _eval(expression, data, f"{policy.name} variables.{name}")
    return data


def selects(policy: Compiled, request: Request, current: Any) -> bool:
    """matchConstraints (rules, namespaceSelector) and every matchCondition, on the object as it is now."""
    if not (
        rules_match({"rules": policy.constraints["resourceRules"]}, request)
        and namespace_matches(policy.constraints, request.namespace, {})
    ):
        return False
    data = {"object": current, "oldObject": request.old_object, "request": admission_request(request)}
    return all(_eval(e, data, f"{policy.name} {name}") is True for name, e in policy.conditions)


def mutate(policy: Compiled, request: Request, current: Any) -> Any:
    """The object after this MutatingAdmissionPolicy (unchanged when it does not select it)."""
    if not selects(policy, request, current):
        return current
    for expression in policy.mutations:
        data = bind(request, current, policy)
        operations = _eval(expression, data, policy.name)
        if not isinstance(operations, list):
            raise PolicyError(f"{policy.name}: a JSONPatch expression gave {operations!r}")
        for op in operations:
            if set(op) != {"op", "path", "value"} or op["op"] not in ("add", "replace"):
                raise PolicyError(f"{policy.name}: {op!r}")
        try:
            current = jsonpatch.apply_patch(current, operations)
        except jsonpatch.JsonPatchException as exc:
            raise PolicyError(f"{policy.name}: the apiserver would refuse {operations}: {exc}") from None
    return current


class Verdict(NamedTuple):
    policy: str
    message: str
    action: str


def validate(policy: Compiled, action: str, request: Request, current: Any) -> list[Verdict]:
    """What this ValidatingAdmissionPolicy says of the final object: each failed validation's message."""
    if not selects(policy, request, current):
        return []
    data = bind(request, current, policy)
    verdicts = []
    for expression, message, message_expression in policy.validations:
        if _eval(expression, data, policy.name) is True:
            continue
        if message_expression is not None:
            message = _eval(message_expression, data, f"{policy.name} messageExpression")
        verdicts.append(Verdict(policy.name, message, action))
    return verdicts


class Admitted(NamedTuple):
    object: Any
    verdicts: list[Verdict]


class CompiledSet(NamedTuple):
    mutating: list[Compiled]
    validating: list[tuple[Compiled, str]]  # with its binding's validationAction


def compile_all(rendered: Sequence[Obj]) -> CompiledSet:
    actions = {
        o["spec"]["policyName"]: o["spec"]["validationActions"]
        for o in rendered
        if o["kind"] == "ValidatingAdmissionPolicyBinding"
    }
    for name, chosen in actions.items():
        if len(chosen) != 1 or chosen[0] not in ("Warn", "Deny"):
            raise PolicyError(f"{name}: validationActions {chosen}")
    return CompiledSet(
        [compile_policy(o) for o in rendered if o["kind"] == "MutatingAdmissionPolicy"],
        [
            (compile_policy(o), actions[o["metadata"]["name"]][0])
            for o in rendered
            if o["kind"] == "ValidatingAdmissionPolicy"
        ],
    )


def admit(policies: CompiledSet, request: Request, order: Sequence[int] | None = None) -> Admitted:
    """The request through every policy: the mutating ones in `order` (indexes; the apiserver guarantees
    no order), then again in the reverse order as a reinvocation, which must change nothing; then the
    validating ones on the result."""
    order = list(order) if order is not None else list(range(len(policies.mutating)))
    current = request.object
    for index in order:
        current = mutate(policies.mutating[index], request, current)
    again = current
    for index in reversed(order):
        again = mutate(policies.mutating[index], request, again)
    if again != current:
        raise PolicyError(f"a reinvocation changed the object: {current} -> {again}")
    verdicts = []
    for policy, action in policies.validating:
        verdicts.extend(validate(policy, action, request, current))
    return Admitted(current, verdicts)


def bindings_match(rendered: Sequence[Mapping[str, Any]]) -> bool:
    """Every policy has exactly one binding of its name, and every binding a policy."""
    policies = {(o["kind"], o["metadata"]["name"]) for o in rendered if not o["kind"].endswith("Binding")}
    bindings = [
        (o["kind"].removesuffix("Binding"), o["spec"]["policyName"])
        for o in rendered
        if o["kind"].endswith("Binding")
    ]
    return sorted(bindings) == sorted(policies)
