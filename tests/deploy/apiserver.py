"""What the apiserver does with a webhook configuration before it calls the webhook, offline: the rules,
the namespaceSelector, and the matchConditions evaluated in CEL.

The CEL is Google's own C++ implementation (cel-expr-python, `cel-cpp` underneath), not a reimplementation:
of the CEL implementations on PyPI it is the one closest to the apiserver's cel-go. Both are the CEL
team's, hold to the same spec and conformance suite, type-check before they run (the apiserver rejects a
condition that is not `bool`; so do we), have heterogeneous equality (`1 == "a"` is false, not an error)
and RE2 for matches() (cel-go uses Go's regexp, the same syntax and linear-time guarantee). cel-python
(pure Python) has no heterogeneous equality, and the Rust bindings (common-expression-language) have
no type checker.

The variables are what the apiserver declares for matchConditions (plugin/cel/compile.go): `object` and
`oldObject` untyped, `request` the AdmissionRequest (typed there: its fields are checked by
test_rendering against that type). They are bound as the apiserver builds them: JSON, with the
AdmissionRequest's empty `omitempty` fields absent (filter.go, convertObjectToUnstructured).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cel_expr_python import cel

from mcp_admission.policies import Request
from mcp_admission.policies.engine.workloads import TOOLHIVE_GROUP

Obj = dict[str, Any]

# The standard library only: the apiserver also loads extensions (strings, lists, ...), which the
# conditions do not use, so that nothing they need can differ between its versions.
ENVIRONMENT = cel.NewEnv(
    variables={"object": cel.Type.DYN, "oldObject": cel.Type.DYN, "request": cel.Type.DYN}
)

# What the apiserver serves, for the requests the tests make: kind -> (group, versions, resource).
SERVED: dict[str, tuple[str, tuple[str, ...], str]] = {
    "Service": ("", ("v1",), "services"),
    "ConfigMap": ("", ("v1",), "configmaps"),
    "Pod": ("", ("v1",), "pods"),
    "StatefulSet": ("apps", ("v1",), "statefulsets"),
    "Deployment": ("apps", ("v1",), "deployments"),
    "ReplicaSet": ("apps", ("v1",), "replicasets"),
    "MCPServer": (TOOLHIVE_GROUP, ("v1alpha1", "v1beta1"), "mcpservers"),
    "MCPRemoteProxy": (TOOLHIVE_GROUP, ("v1alpha1", "v1beta1"), "mcpremoteproxies"),
    "VirtualMCPServer": (TOOLHIVE_GROUP, ("v1alpha1", "v1beta1"), "virtualmcpservers"),
    "EmbeddingServer": (TOOLHIVE_GROUP, ("v1alpha1",), "embeddingservers"),
}


class CELError(AssertionError):
    """A condition did not compile to bool, or failed on an input: neither may happen."""


def compile_conditions(hook: Mapping[str, Any]) -> list[tuple[str, cel.Expression]]:
    """Each matchCondition, compiled and checked to be `bool` as the apiserver demands."""
    compiled = []
    for condition in hook.get("matchConditions", ()):
        try:
            expression = ENVIRONMENT.compile(condition["expression"])
        except Exception as exc:
            raise CELError(f"{condition['name']} does not compile: {exc}") from None
        if expression.return_type() != cel.Type.BOOL:
            raise CELError(f"{condition['name']} is {expression.return_type().name()}, not bool")
        compiled.append((condition["name"], expression))
    return compiled


def admission_request(request: Request) -> Obj:
    """The `request` variable: the AdmissionRequest as JSON, as the apiserver binds it."""
    group, _, resource = SERVED[request.kind]
    kind = {"group": group, "version": request.version, "kind": request.kind}
    gvr = {"group": group, "version": request.version, "resource": resource}
    bound: Obj = {
        "kind": kind,
        "resource": gvr,
        "requestKind": kind,
        "requestResource": gvr,
        "operation": str(request.operation),
        "userInfo": {"username": "someone"},
        "dryRun": request.dry_run,
    }
    # `omitempty` in k8s.io/api/admission/v1: an empty name (generateName on CREATE) is no key at all.
    for key, value in (
        ("name", request.name),
        ("namespace", request.namespace),
        ("subResource", request.sub_resource),
        ("requestSubResource", request.sub_resource),
    ):
        if value:
            bound[key] = value
    return bound


def evaluate(compiled: Sequence[tuple[str, cel.Expression]], request: Request) -> dict[str, bool]:
    """Each condition's verdict; an error is a failure of the test, never a verdict."""
    data = {"object": request.object, "oldObject": request.old_object, "request": admission_request(request)}
    verdicts = {}
    for name, expression in compiled:
        value = expression.eval(data=data)
        if value.type() != cel.Type.BOOL:
            raise CELError(f"{name} failed on {data}: {value.value()}")
        verdicts[name] = bool(value.value())
    return verdicts


def rules_match(hook: Mapping[str, Any], request: Request) -> bool:
    """The webhook's rules name the request's group, version, resource (with its subresource) and
    operation. (The rendered rules use no wildcards: test_rendering checks that.)"""
    _, _, resource = SERVED[request.kind]
    named = f"{resource}/{request.sub_resource}" if request.sub_resource else resource
    group = SERVED[request.kind][0]
    return any(
        group in rule["apiGroups"]
        and request.version in rule["apiVersions"]
        and named in rule["resources"]
        and request.operation in rule["operations"]
        for rule in hook["rules"]
    )


def namespace_matches(hook: Mapping[str, Any], namespace: str, labels: Mapping[str, str]) -> bool:
    """The namespaceSelector (matchExpressions, as a LabelSelector) on the namespace's labels; from 1.21
    every namespace has kubernetes.io/metadata.name: <its name>."""
    labels = {"kubernetes.io/metadata.name": namespace, **labels}
    for expression in hook.get("namespaceSelector", {}).get("matchExpressions", ()):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", ())
        present = key in labels
        if not {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }[operator]:
            return False
    return True


def sends(
    hook: Mapping[str, Any],
    compiled: Sequence[tuple[str, cel.Expression]],
    request: Request,
    namespace_labels: Mapping[str, str] | None = None,
) -> bool:
    """Whether the apiserver calls this webhook for `request`: rules, namespaceSelector, and every
    matchCondition true (evaluated even when the rest already says no: none may ever fail)."""
    verdicts = evaluate(compiled, request)
    return (
        rules_match(hook, request)
        and namespace_matches(hook, request.namespace, namespace_labels or {})
        and all(verdicts.values())
    )
