"""The policies as MutatingAdmissionPolicies and ValidatingAdmissionPolicies (admissionregistration.k8s.io/v1;
Kubernetes 1.36+ for the mutating ones): the apiserver applies them itself, no webhook pod in the path.

Rendered from a configuration file, as the webhook configurations are: each policy's mode and settings are
baked in (`off` renders nothing), its matchConstraints are the webhook's rules and excluded namespaces for
the kinds and operations it reads, and its matchConditions are §1's recognition of MCP workloads
(mcp_admission.deploy.conditions) plus its own opt-out ("*" or its ID in mcp-admission.io/skip-policies).
tests/deploy/test_admission_policies.py holds every expression equal to the engine.

- Mutations are JSONPatch, not ApplyConfiguration: the engine's own patches are RFC 6902, so each mutation
  says the same operations on the same paths, and a JSONPatch sets exactly the fields named. An apply
  configuration is merged by the object's schema (ToolHive's podTemplateSpec preserves unknown fields:
  no schema to merge by) and may not set atomic fields. Every mutation tests what it changes first, so it
  is a no-op on an object it already fixed: any order, and reinvocationPolicy IfNeeded.
- A MutatingAdmissionPolicy cannot warn: in this mode the fixes are silent (`kubectl` shows nothing).
  Recording each fix in an annotation would write our annotation into every MCP object (drift for GitOps
  tools), and a ValidatingAdmissionPolicy sees only the final object, not what changed it. `mcp-admission
  check` says what would be fixed before an apply and `audit` what runs. What a mutating policy says
  without fixing (statefulset-dns's advice; termination-grace's denial in enforce) is a
  ValidatingAdmissionPolicy of the same name, which judges the object after every mutation.
- Warnings and denials of a ValidatingAdmissionPolicy are prefixed by the apiserver with the policy's and
  the binding's names: both are mcp-<policy ID>, and the messages are the engine's without the ID.
- Every list and map literal holds values of one type: the apiserver's CEL environment refuses mixed
  ones (HomogeneousAggregateLiterals; test_rendering checks the literals).
- failurePolicy Ignore, as for the webhooks; no expression can fail on any object (the test feeds odd
  types everywhere), and each stays far inside the apiserver's CEL cost limits (tests/deploy/
  test_rendering.py bounds them): labels are read by key, the only loops run over ownerReferences and a
  selector's matchLabels after a size() bound, and strings the author writes are matched (RE2), never split.

Kubernetes' own definitions relied on: staging/src/k8s.io/api/admissionregistration/v1/types.go
(MutatingAdmissionPolicySpec: matchConstraints, matchConditions, variables, mutations[].patchType
JSONPatch with jsonPatch.expression, reinvocationPolicy, failurePolicy; ValidatingAdmissionPolicySpec:
validations[].expression, message, messageExpression; bindings: policyName, validationActions), as the
v1 API reference and the kubernetes Python client's v1 models (37.0.2) give them; and
staging/src/k8s.io/apiserver/pkg/admission/plugin/policy/mutating/patch/json_patch.go: the expression
must be a list(JSONPatch), each value is converted to JSON and the list applied with evanphx/json-patch v4
to the object's JSON (an add under a missing parent or a replace of a missing field is an error, so
every patch here tests its path first).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from mcp_admission.deploy.conditions import (
    all_of,
    any_of,
    literal,
    match_conditions,
    negate,
    opted_out,
    transport_is,
)
from mcp_admission.deploy.configurations import LABELS, namespace_selector, rules, to_yaml
from mcp_admission.policies import (
    ALL_POLICIES,
    API_RESOURCES,
    MATCH_EXPRESSIONS,
    MAX_OWNER_REFERENCES,
    MAX_SELECTOR_LABELS,
    MAX_SKIP_LENGTH,
    NO_MATCH_LABELS,
    TOO_MANY_LABELS,
    TOOLHIVE_GROUP,
    Mode,
    Policy,
    PolicyConfig,
    affinity_with_redis,
    backend_affinity,
    session_affinity,
    session_storage,
    statefulset_dns,
    stdio_replicas,
    termination_grace,
)

Obj = dict[str, Any]
API_VERSION = "admissionregistration.k8s.io/v1"
NOT_SKIPPED = "not-skipped"  # the matchCondition for a policy's own opt-out
NAME_PREFIX = "mcp-"  # short: the apiserver puts policy and binding names before every warning


def policy_name(policy_id: str) -> str:
    return NAME_PREFIX + policy_id


# ---------------------------------------------------------------------------------------------- CEL


def is_map(path: str) -> str:
    """Every step of `path` (object.a.b) is present and a map: the engine's mapping() chain."""
    root, *fields = path.split(".")
    steps = [f"type({root}) == map"]
    for index in range(len(fields)):
        step = ".".join([root, *fields[: index + 1]])
        steps.append(f"has({step}) && type({step}) == map")
    return " && ".join(steps)


def present(path: str) -> str:
    """`path` is there, its parent a map."""
    parent, _, _ = path.rpartition(".")
    return f"{is_map(parent)} && has({path})"


def integer(path: str) -> str:
    """int_field(): an integer (JSON booleans and numbers with a fraction are not)."""
    return f"{present(path)} && type({path}) == int"


def equals(path: str, value: str) -> str:
    return f"{present(path)} && {path} == {value}"


def value_or_null(path: str) -> str:
    """The field's value, null when absent or its parent is no map (the engine's .get())."""
    return f"({present(path)} ? {path} : null)"


def falsy(expr: str) -> str:
    """Python's falsy JSON values (`x or default`): null, false, 0 (and 0.0), "", [], {}. Compared one by
    one: Kubernetes' CEL wants list and map literals of one type (HomogeneousAggregateLiterals)."""
    return "(" + " || ".join(f"{expr} == {v}" for v in ("null", "false", "0", '""', "[]", "{}")) + ")"


def patch(op: str, path: str, value: str) -> str:
    """One JSONPatch, as the apiserver's JSONPatch CEL type (the test reads it as a map)."""
    return f'JSONPatch{{op: "{op}", path: "{path}", value: {value}}}'


def when(condition: str, *patches: str) -> str:
    return f"({condition}) ? [{', '.join(patches)}] : []"


def _controlled_by_toolhive() -> tuple[tuple[str, str], ...]:
    """session_affinity.controlled_by_toolhive, as variables: the first ownerReference with controller
    true and a string apiVersion is ToolHive's; more than MAX_OWNER_REFERENCES count as controlled (the
    engine decides so too), so the one loop is bounded."""
    refs = "object.metadata.ownerReferences"
    first = "variables.controllers[0].apiVersion"
    group = f"{first} == {literal(TOOLHIVE_GROUP)} || {first}.startsWith({literal(TOOLHIVE_GROUP + '/')})"
    return (
        ("owners", f"{present(refs)} && type({refs}) == list ? {refs} : []"),
        (
            "controllers",
            f"size(variables.owners) <= {MAX_OWNER_REFERENCES} ? variables.owners.filter(r, type(r) == map &&"
            " has(r.controller) && r.controller == true && has(r.apiVersion) && type(r.apiVersion) == string)"
            " : []",
        ),
        (
            "controlled",
            f"size(variables.owners) > {MAX_OWNER_REFERENCES} ||"
            f" (size(variables.controllers) > 0 && ({group}))",
        ),
    )


# ------------------------------------------------------------------------------ one policy at a time


class Rendered(NamedTuple):
    """What a policy becomes: JSONPatch expressions (a MutatingAdmissionPolicy when any) and validations
    (a ValidatingAdmissionPolicy when any): (expression that must hold, message, messageExpression). The
    message is required (the expressions span lines) and is what the apiserver shows should a
    messageExpression fail."""

    mutations: tuple[str, ...] = ()
    validations: tuple[tuple[str, str, str | None], ...] = ()
    variables: tuple[tuple[str, str], ...] = ()


def _session_affinity(config: PolicyConfig) -> Rendered:
    settings = config.settings(session_affinity.POLICY)
    spec = "object.spec"
    headless = any_of(
        [
            equals(f"{spec}.clusterIP", '"None"'),
            f"{present(spec + '.clusterIPs')} && type({spec}.clusterIPs) == list &&"
            f' size({spec}.clusterIPs) > 0 && {spec}.clusterIPs[0] == "None"',
        ]
    )
    applies = all_of(
        [
            is_map(spec),
            "!variables.controlled",
            negate(equals(f"{spec}.type", '"ExternalName"')),
            negate(headless),
            negate(equals(f"{spec}.sessionAffinity", '"ClientIP"')),
        ]
    )
    config_value = f'{{"clientIP": {{"timeoutSeconds": {settings.timeout_seconds}}}}}'
    mutation = when(
        applies,
        patch("add", "/spec/sessionAffinity", '"ClientIP"'),
        patch("add", "/spec/sessionAffinityConfig", config_value),
    )
    return Rendered(mutations=(mutation,), variables=_controlled_by_toolhive())


def _statefulset_dns(config: PolicyConfig) -> Rendered:
    """statefulset_dns.evaluate, its intermediate values as the policy's variables (each computed once)."""
    settings = config.settings(statefulset_dns.POLICY)
    prefix, suffix = settings.service_name_pattern.split("{name}")
    room = 63 - len(prefix) - len(suffix)
    labels = "object.spec.selector.matchLabels"
    update = 'request.operation == "UPDATE"'
    recreate = "recreate: kubectl delete sts --cascade=orphan, re-apply"
    variables = (
        (
            "name",
            "has(object.metadata.name) && type(object.metadata.name) == string ? object.metadata.name :"
            ' (has(request.name) ? request.name : "")',
        ),
        # names.service_name: a non-empty name giving a DNS-1035 label; a longer name is never copied.
        (
            "want",
            f"size(variables.name) > 0 && size(variables.name) <= {room} ?"
            f' {literal(prefix)} + variables.name + {literal(suffix)} : ""',
        ),
        ("valid", 'variables.want != "" && variables.want.matches("^[a-z]([-a-z0-9]*[a-z0-9])?$")'),
        ("current", value_or_null("object.spec.serviceName")),
        ("old", value_or_null("oldObject.spec.serviceName")),
        (
            "keep",
            f"{update} && variables.valid && variables.old == variables.want &&"
            " variables.current != variables.want",
        ),
        ("stdio", transport_is(config, ["StatefulSet"], "stdio")),
        ("served", "!variables.keep && !variables.stdio"),
        ("expressions", value_or_null("object.spec.selector.matchExpressions")),
        ("noExpressions", falsy("variables.expressions")),
        # backend_selector(): matchLabels, a non-empty map of strings, read up to MAX_SELECTOR_LABELS.
        (
            "labelsOk",
            f"{is_map(labels)} && size({labels}) > 0 && size({labels}) <= {MAX_SELECTOR_LABELS} &&"
            f" {labels}.all(k, type({labels}[k]) == string)",
        ),
    )
    v = {name: f"variables.{name}" for name, _ in variables}
    spec_value = "{" + literal("serviceName") + ": variables.want}"
    set_it = (
        f"({is_map('object.spec')} ? [{patch('add', '/spec/serviceName', v['want'])}] :"
        f" [{patch('add', '/spec', spec_value)}])"
    )
    creates = all_of(
        [v["served"], 'request.operation == "CREATE"', v["noExpressions"], v["labelsOk"], v["valid"],
         f"{v['current']} != {v['want']}"]
    )  # fmt: skip
    mutation = f"{any_of([v['keep'], creates])} ?\n  {set_it} :\n  []"
    many = literal(f"no pod DNS: {TOO_MANY_LABELS}")
    none = literal(f"no pod DNS: {NO_MATCH_LABELS}")
    too_many = f"{is_map(labels)} && size({labels}) > {MAX_SELECTOR_LABELS} ? {many} : {none}"
    judged = [v["served"], v["noExpressions"], v["labelsOk"], v["valid"], update]
    says = [
        (all_of([v["served"], negate(v["noExpressions"])]), f"no pod DNS: {MATCH_EXPRESSIONS}", None),
        (all_of([*judged[:2], negate(v["labelsOk"])]), f"no pod DNS: {NO_MATCH_LABELS}", too_many),
        (all_of([*judged[:3], negate(v["valid"])]), statefulset_dns.INVALID_NAME, None),
        (
            all_of([*judged, f"{v['current']} != {v['old']}"]),
            f"serviceName is immutable (update refused); {recreate}",
            None,
        ),
        (
            all_of([*judged, f"{v['current']} == {v['old']}", f"{v['current']} != {v['want']}"]),
            f"no pod DNS; {recreate}",
            None,
        ),
    ]
    return Rendered(
        mutations=(mutation,),
        validations=tuple((negate(c), m, d) for c, m, d in says),
        variables=variables,
    )


def _mcpserver_stdio() -> str:
    """stdio_replicas.transport_of for an MCPServer: spec.transport, "stdio" when absent."""
    return any_of([negate(present("object.spec.transport")), 'object.spec.transport == "stdio"'])


def _stdio_replicas(config: PolicyConfig) -> Rendered:
    parts = []
    for kind, fields in stdio_replicas.FIELDS.items():
        stdio = _mcpserver_stdio() if kind == "MCPServer" else transport_is(config, [kind], "stdio")
        for field in fields:
            path = f"object.spec.{field}"
            condition = all_of([f"request.kind.kind == {literal(kind)}", stdio, integer(path), f"{path} > 1"])
            parts.append(when(condition, patch("replace", f"/spec/{field}", "1")))
    return Rendered(mutations=tuple(parts))


def _termination_grace(config: PolicyConfig) -> Rendered:
    settings = config.settings(termination_grace.POLICY)
    minimum, field = settings.min_seconds, termination_grace.FIELD
    by_path: dict[tuple[str, ...], list[str]] = {}
    for kind, pod_spec in termination_grace.POD_SPECS.items():
        by_path.setdefault(pod_spec, []).append(kind)
    mutations: list[str] = []
    validations: list[tuple[str, str, str | None]] = []
    for tokens, kinds in by_path.items():
        path = "object." + ".".join((*tokens, field))
        kind = f"request.kind.kind in [{', '.join(literal(k) for k in sorted(kinds))}]"
        short = all_of([kind, integer(path), f"{path} < {minimum}"])
        if settings.mode is Mode.ENFORCE:
            message = f"{field} must be >= {minimum} {termination_grace.REASON}"
            validations.append((negate(short), message, None))
        else:
            mutations.append(when(short, patch("replace", "/" + "/".join((*tokens, field)), str(minimum))))
    return Rendered(tuple(mutations), tuple(validations))


def _redis() -> str:
    return equals("object.spec.sessionStorage.provider", '"redis"')


def _session_storage(config: PolicyConfig) -> Rendered:
    validations = []
    for field in session_storage.REPLICA_FIELDS:
        path = f"object.spec.{field}"
        condition = all_of([negate(_redis()), integer(path), f"{path} > 1"])
        message = (
            f'"spec.{field} " + string({path}) + " without sessionStorage redis: sessions are not shared"'
        )
        static = f"spec.{field} above 1 without sessionStorage redis: sessions are not shared"
        validations.append((negate(condition), static, message))
    return Rendered(validations=tuple(validations))


def _affinity_with_redis(config: PolicyConfig) -> Rendered:
    replicas = "object.spec.replicas"
    several = f"{integer(replicas)} && {replicas} > 1"
    affinity = value_or_null("object.spec.sessionAffinity")
    client_ip = any_of([falsy(affinity), f'{affinity} == "ClientIP"'])
    pins = all_of([several, _redis(), client_ip])
    lost = all_of([several, negate(_redis()), f'{affinity} == "None"'])
    pins_message = (
        "sessions are in redis: ClientIP pins clients behind a proxy to one pod; use sessionAffinity None"
    )
    lost_message = (
        f'"sessionAffinity None, " + string({replicas}) + " replicas, no redis: a session\'s requests reach'
        ' pods that lack it"'
    )
    lost_static = (
        "sessionAffinity None, several replicas, no redis: a session's requests reach pods that lack it"
    )
    return Rendered(
        validations=((negate(pins), pins_message, None), (negate(lost), lost_static, lost_message))
    )


def _backend_affinity(config: PolicyConfig) -> Rendered:
    backends, replicas = "object.spec.backendReplicas", "object.spec.replicas"
    proxies = f"({integer(replicas)} ? {replicas} : 1)"
    condition = all_of(
        [negate(_mcpserver_stdio()), integer(backends), f"{proxies} >= 1", f"{backends} > {proxies}"]
    )
    message = (
        f'"backendReplicas " + string({backends}) + " > replicas " + string{proxies} +'
        ' ": ClientIP pins each proxy pod to one backend pod"'
    )
    static = "more backendReplicas than replicas: ClientIP pins each proxy pod to one backend pod"
    return Rendered(validations=((negate(condition), static, message),))


RENDERERS: dict[str, Callable[[PolicyConfig], Rendered]] = {
    session_affinity.ID: _session_affinity,
    statefulset_dns.ID: _statefulset_dns,
    stdio_replicas.ID: _stdio_replicas,
    termination_grace.ID: _termination_grace,
    session_storage.ID: _session_storage,
    affinity_with_redis.ID: _affinity_with_redis,
    backend_affinity.ID: _backend_affinity,
}


# --------------------------------------------------------------------------------------- the objects


def _kinds(policy: Policy[Any]) -> dict[str, frozenset[str]]:
    return {kind: policy.operations for kind in policy.kinds}


def _spec_common(config: PolicyConfig, policy: Policy[Any], variables: tuple[tuple[str, str], ...]) -> Obj:
    kinds = _kinds(policy)
    for kind in kinds:
        if kind not in API_RESOURCES:
            raise ValueError(f"policy {policy.id} reads {kind}, which has no resource in API_RESOURCES")
    constraints: Obj = {
        "resourceRules": rules(kinds),
        "namespaceSelector": namespace_selector(config, legacy=False),
        "matchPolicy": "Equivalent",
    }
    conditions = [
        *match_conditions(config, kinds),
        {"name": NOT_SKIPPED, "expression": negate(opted_out(policy.id))},
    ]
    spec: Obj = {"failurePolicy": "Ignore", "matchConstraints": constraints, "matchConditions": conditions}
    if variables:
        spec["variables"] = [{"name": name, "expression": expression} for name, expression in variables]
    return spec


def _object(kind: str, name: str, spec: Obj) -> Obj:
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name, "labels": {**LABELS, "app.kubernetes.io/component": "admission-policy"}},
        "spec": spec,
    }


def admission_policies(config: PolicyConfig) -> list[Obj]:
    """Every policy not `off`: its MutatingAdmissionPolicy and/or ValidatingAdmissionPolicy, each with its
    binding, in the registry's order."""
    rendered: list[Obj] = []
    for policy in ALL_POLICIES:
        mode = config.modes[policy.id]
        if mode is Mode.OFF:
            continue
        name = policy_name(policy.id)
        result = RENDERERS[policy.id](config)
        if result.mutations:
            spec = _spec_common(config, policy, result.variables)
            spec["reinvocationPolicy"] = "IfNeeded"
            spec["mutations"] = [
                {"patchType": "JSONPatch", "jsonPatch": {"expression": e}} for e in result.mutations
            ]
            rendered.append(_object("MutatingAdmissionPolicy", name, spec))
            rendered.append(_object("MutatingAdmissionPolicyBinding", name, {"policyName": name}))
        if result.validations:
            spec = _spec_common(config, policy, result.variables)
            spec["validations"] = [
                {"expression": expression, "message": message}
                | ({"messageExpression": dynamic} if dynamic else {})
                for expression, message, dynamic in result.validations
            ]
            rendered.append(_object("ValidatingAdmissionPolicy", name, spec))
            action = "Deny" if mode is Mode.ENFORCE else "Warn"
            binding = {"policyName": name, "validationActions": [action]}
            rendered.append(_object("ValidatingAdmissionPolicyBinding", name, binding))
    return rendered


_HEADER = """\
# The policies as MutatingAdmissionPolicies and ValidatingAdmissionPolicies (admissionregistration.k8s.io/v1),
# for Kubernetes 1.36 and newer: the apiserver applies them itself, so no webhook pod is in the path.
# Generated by `mcp-admission webhooks --admission-policies` from a configuration file (each policy's mode
# and settings, `workloads`, `excludedNamespaces`) and the registered policies: do not edit; after
# changing those, render again. A policy in mode `off` has nothing here.
#
# matchConstraints: the kinds and operations each policy reads (CREATE, UPDATE; no subresources) outside
# excludedNamespaces, as the webhooks' rules. matchConditions: the engine's recognition of MCP workloads
# (as the webhooks' matchConditions) and the policy's own opt-out (mcp-admission.io/skip-policies: "*" or
# its ID). Mutations are JSONPatch, as the engine's own patches, each a no-op on an object it already
# fixed: any order, reinvocationPolicy IfNeeded. They are silent: a MutatingAdmissionPolicy cannot warn
# (`mcp-admission check` shows the fixes before an apply, `audit` on what runs). What a policy says
# without fixing is a ValidatingAdmissionPolicy of the same name, judging the object after every
# mutation: validationActions [Warn] in mode warn, [Deny] in enforce; the apiserver puts
# "ValidatingAdmissionPolicy 'mcp-<policy>' with binding 'mcp-<policy>'" before the engine's message.
# failurePolicy Ignore, as for the webhooks. No expression fails on any object, and none can be made
# expensive: labels are read by key, the opt-out is one RE2 match on at most {skip} characters, the only
# loops run over at most {owners} ownerReferences and {labels} matchLabels.
"""


def render(config: PolicyConfig) -> str:
    """Every policy's objects as YAML, after a comment that says why each choice is made."""
    header = _HEADER.format(skip=MAX_SKIP_LENGTH, owners=MAX_OWNER_REFERENCES, labels=MAX_SELECTOR_LABELS)
    return header + to_yaml(admission_policies(config))
