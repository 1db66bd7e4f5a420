"""The rendered MutatingAdmissionPolicies and ValidatingAdmissionPolicies do what the engine does (issue 19
§2), offline, on random configurations and objects of every shape (tests/deploy/policy_admission.py says
how the apiserver's JSONPatch and variables are read in cel-expr-python, and what is not simulated):

- mutations: the object after every mutating policy, in any order, equals the object after the engine's
  patch (decide, phase mutate); a reinvocation changes nothing; nothing else is touched.
- validations: on that object (what the validating webhook would be sent) the policies say exactly what
  the engine says, message for message, Warn for a policy in `warn` and Deny in `enforce`; the engine's
  denials are the policies' denials. The mutating policies' advice (statefulset-dns) is judged there
  too, after the mutations, as a reinvoked webhook would judge it. On the one object where that differs
  from the webhook's first call (an UPDATE whose serviceName the policy just put back, with a selector
  it could not serve anyway) the webhook says only "kept serviceName" and the policy says
  "no pod DNS: <the selector's problem>", as the webhook says on every other update of that StatefulSet.

The engine's fixes are silent here (a MutatingAdmissionPolicy cannot warn): on the final object the
engine finds nothing left to fix, which is what the test checks of the fixed findings.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_admission.deploy.admission_policies import admission_policies, policy_name
from mcp_admission.policies import ALL_POLICIES, Decision, Operation, Phase, PolicyConfig, Request, decide
from mcp_admission.policies.engine.patch import apply
from mcp_admission.policies.engine.settings import Mode
from mcp_admission.policies.engine.workloads import MAX_OWNER_REFERENCES, TOOLHIVE_GROUP
from mcp_admission.records import validate
from tests.policies import toolhive_objects

from . import policy_admission as pa
from .apiserver import SERVED
from .test_match_conditions import NAMESPACES, ODD, drawn_request, odd_or, selectors, some_of, typical

POLICY_IDS = [p.id for p in ALL_POLICIES]
INTS = st.sampled_from([0, 1, 1, 2, 2, 3, -1, 29, 30, 31, 44, 45, 46])
NUMBERS = st.one_of(*[INTS] * 4, st.sampled_from([2.0, 1.5, True, "3", None]))
TRANSPORTS = ("stdio", "sse", "streamable-http", "", "STDIO")
transport_labels = some_of(
    {
        "mcp-admission.io/transport": odd_or(st.sampled_from(TRANSPORTS)),
        "toolhive-transport": odd_or(st.sampled_from(TRANSPORTS)),
    }
)
SERVICE_NAMES = ("mcp-fetch-headless", "mcp-mcp-fetch-headless", "fetch-dns", "other", "", "h-fetch")
pod_template = some_of({"spec": odd_or(some_of({"terminationGracePeriodSeconds": NUMBERS}))})
spec = some_of(
    {
        # Service
        "type": odd_or(st.sampled_from(["ClusterIP", "ExternalName", "NodePort"])),
        "clusterIP": odd_or(st.sampled_from(["None", "10.0.0.1", ""])),
        "clusterIPs": odd_or(st.sampled_from([["None"], ["10.0.0.1"], [], [None], ["None", "x"]])),
        "sessionAffinity": st.sampled_from(["ClientIP", "None", "", 0, 0.0, False, [], {}, None, "clientip"]),
        "sessionAffinityConfig": odd_or(st.just({"clientIP": {"timeoutSeconds": 1800}})),
        # StatefulSet, Deployment
        "serviceName": odd_or(st.sampled_from(SERVICE_NAMES)),
        "selector": odd_or(
            some_of(
                {
                    "matchLabels": odd_or(
                        st.dictionaries(st.sampled_from(["app", "x"]), odd_or(st.just("a")))
                    ),
                    "matchExpressions": st.sampled_from(
                        [[], [{"key": "a", "operator": "Exists"}], "", 0, 1, {}]
                    ),
                }
            )
        ),
        "template": odd_or(pod_template),
        # ToolHive's resources (and replicas everywhere)
        "replicas": NUMBERS,
        "backendReplicas": NUMBERS,
        "transport": odd_or(st.sampled_from(["stdio", "sse", "streamable-http"])),
        "sessionStorage": odd_or(some_of({"provider": odd_or(st.sampled_from(["redis", "memory"]))})),
        "podTemplateSpec": odd_or(pod_template),
    }
)


@st.composite
def metadata(draw: st.DrawFn) -> dict[str, Any]:
    """§1's typical metadata (owners, opt-outs, marks), sometimes a transport label too; policy IDs in
    the opt-out as well as "*"."""
    meta = draw(typical())
    labels = {**meta["labels"], **draw(transport_labels)}
    meta["labels"] = labels
    if draw(st.booleans()):
        meta["annotations"] = {
            "mcp-admission.io/skip-policies": draw(
                st.sampled_from([*POLICY_IDS, " statefulset-dns ,x", "session-affinityx", "*"])
            )
        }
    if draw(st.integers(0, 9)) == 0:
        meta["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "x", "controller": False}
        ] * (MAX_OWNER_REFERENCES + 1)
    if draw(st.integers(0, 4)) == 0:
        meta["ownerReferences"] = [
            {"apiVersion": draw(st.sampled_from([f"{TOOLHIVE_GROUP}/v1beta1", "apps/v1", TOOLHIVE_GROUP])),
             "kind": "MCPServer", "name": "fetch", "controller": draw(odd_or(st.booleans()))}
            for _ in range(draw(st.integers(1, 2)))
        ]  # fmt: skip
    return meta


objects = st.fixed_dictionaries({"metadata": metadata(), "spec": odd_or(spec)})
KINDS = (
    *(("Service", "StatefulSet") * 3),
    *(("Deployment", "MCPServer", "MCPRemoteProxy", "VirtualMCPServer") * 2),
    "ConfigMap",
    "EmbeddingServer",
)
OPERATIONS = (Operation.CREATE, Operation.UPDATE) * 4 + (Operation.DELETE,)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    kind = draw(st.sampled_from(KINDS))
    operation = draw(st.sampled_from(OPERATIONS))
    obj = None if operation is Operation.DELETE else draw(objects)
    old = None
    if operation is not Operation.CREATE:
        old = draw(objects)
        if obj is not None and draw(st.booleans()):  # an UPDATE of the same object, its spec changed
            old = {**old, "metadata": obj["metadata"]}
    return drawn_request(draw, kind, operation, obj, old, ["", "", "", "", "scale"])


MODES = st.sampled_from(["warn", "warn", "enforce", "off"])
configs = st.builds(
    lambda modes, timeout, pattern, minimum, chosen, excluded: validate(
        PolicyConfig,
        {
            "policies": {
                **{pid: {"mode": mode} for pid, mode in zip(POLICY_IDS, modes, strict=True)},
                "session-affinity": {"mode": modes[0], "timeoutSeconds": timeout},
                "statefulset-dns": {"mode": modes[1], "serviceNamePattern": pattern},
                "termination-grace": {"mode": modes[-1], "minSeconds": minimum},
            },
            "workloads": {"selectors": chosen},
            "excludedNamespaces": excluded,
        },
    ),
    st.lists(MODES, min_size=len(POLICY_IDS), max_size=len(POLICY_IDS)),
    st.sampled_from([1800, 60]),
    st.sampled_from(["mcp-{name}-headless", "{name}-dns", "h-{name}"]),
    st.sampled_from([30, 45, 1]),
    st.one_of(st.just([]), st.lists(selectors, min_size=1, max_size=2)),
    st.lists(st.sampled_from(NAMESPACES), max_size=2),
)


def expected_verdicts(request: Request, final: Any, config: PolicyConfig) -> set[pa.Verdict]:
    """What the engine says of the final object, as the policies would say it."""
    decision = decide(request._replace(object=final), config)
    assert not decision.patch and not any(f.fixed for f in decision.warnings), decision
    findings = [*decision.warnings, *([decision.denial] if decision.denial else [])]
    action = {Mode.WARN: "Warn", Mode.ENFORCE: "Deny"}
    return {pa.Verdict(policy_name(f.policy), f.message, action[config.modes[f.policy]]) for f in findings}


def check(config: PolicyConfig, policies: pa.CompiledSet, request: Request, order: list[int]) -> None:
    admitted = pa.admit(policies, request, order)
    mutated = decide(request, config, Phase.MUTATE)
    if mutated.denial is None:
        want = apply(request.object, mutated.patch) if mutated.patch else request.object
        assert admitted.object == want, (request, mutated.patch)
    else:
        assert any(v.action == "Deny" for v in admitted.verdicts), (request, mutated.denial)
    if request.object is None:
        assert not admitted.verdicts
        return
    assert set(admitted.verdicts) == expected_verdicts(request, admitted.object, config), request
    assert len(admitted.verdicts) == len(set(admitted.verdicts))


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs, st.lists(requests(), min_size=1, max_size=4), st.randoms(use_true_random=False))
def test_the_policies_do_what_the_engine_does(config: PolicyConfig, batch: list[Request], rnd: Any) -> None:
    policies = pa.compile_all(admission_policies(config))
    for request in batch:
        order = list(range(len(policies.mutating)))
        rnd.shuffle(order)
        check(config, policies, request, order)


def _toolhive_examples() -> list[dict[str, Any]]:
    return [
        toolhive_objects.backend_statefulset("fetch"),
        toolhive_objects.backend_statefulset("fetch", transport="stdio"),
        toolhive_objects.proxy_deployment("fetch"),
        toolhive_objects.proxy_service("fetch"),
        toolhive_objects.backend_service("fetch", headless=True),
        toolhive_objects.backend_service("fetch", headless=False),
        toolhive_objects.mcpserver_like("MCPServer", "fetch"),
    ]


@pytest.mark.parametrize("operation", [Operation.CREATE, Operation.UPDATE])
def test_toolhive_objects_under_the_shipped_defaults(operation: Operation) -> None:
    """A positive control: what ToolHive makes, through the policies the default configuration renders."""
    config = PolicyConfig()
    policies = pa.compile_all(admission_policies(config))
    for obj in _toolhive_examples():
        request = toolhive_objects.request_for(obj)._replace(
            operation=operation, old_object=obj if operation is Operation.UPDATE else None
        )
        check(config, policies, request, list(range(len(policies.mutating))))


def _statefulset(**spec: Any) -> Request:
    meta = {"name": "fetch", "labels": {"toolhive": "true"}}
    obj = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta, "spec": spec}
    return Request("apps", "v1", "StatefulSet", Operation.CREATE, "default", "fetch", obj)


def test_the_policies_change_what_they_must() -> None:
    """Not only equal to the engine: the shipped defaults do fix things (a control for the property)."""
    config = PolicyConfig()
    policies = pa.compile_all(admission_policies(config))
    template = {"spec": {"terminationGracePeriodSeconds": 5}}
    request = _statefulset(selector={"matchLabels": {"app": "fetch"}}, replicas=3, template=template)
    admitted = pa.admit(policies, request)
    assert admitted.object["spec"]["serviceName"] == "mcp-fetch-headless"
    assert admitted.object["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 30
    assert admitted.object["spec"]["replicas"] == 3  # not stdio
    stdio = request._replace(
        object={
            **request.object,
            "metadata": {
                **request.object["metadata"],
                "labels": {"toolhive": "true", "toolhive-transport": "stdio"},
            },
        }
    )
    assert pa.admit(policies, stdio).object["spec"]["replicas"] == 1
    bad = _statefulset(selector={"matchExpressions": [{"key": "a", "operator": "Exists"}]})
    (verdict,) = pa.admit(policies, bad).verdicts
    assert verdict == pa.Verdict(
        "mcp-statefulset-dns",
        "no pod DNS: selector uses matchExpressions, which a Service selector cannot express",
        "Warn",
    )


def test_off_renders_nothing_and_enforce_denies() -> None:
    off = validate(PolicyConfig, {"policies": {pid: {"mode": "off"} for pid in POLICY_IDS}})
    assert admission_policies(off) == []
    enforce = validate(PolicyConfig, {"policies": {"termination-grace": {"mode": "enforce"}}})
    rendered = admission_policies(enforce)
    names = {(o["kind"], o["metadata"]["name"]) for o in rendered}
    assert ("MutatingAdmissionPolicy", "mcp-termination-grace") not in names
    binding = next(
        o
        for o in rendered
        if o["kind"] == "ValidatingAdmissionPolicyBinding"
        and o["metadata"]["name"] == "mcp-termination-grace"
    )
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert pa.bindings_match(rendered)


def test_odd_values_are_not_trusted() -> None:
    for value in ODD:
        request = _statefulset(selector=value, replicas=value, template=value, serviceName=value)
        check(PolicyConfig(), pa.compile_all(admission_policies(PolicyConfig())), request, [0, 1, 2, 3])


GRID_NUMBERS = (None, 0, 1, 2, 3, 2.0)


def _resource(kind: str, labels: dict[str, str], **spec: Any) -> Request:
    group, versions, _ = SERVED[kind]
    spec = {key: value for key, value in spec.items() if value is not None}
    obj = {"apiVersion": f"{group}/{versions[0]}".lstrip("/"), "kind": kind,
           "metadata": {"name": "fetch", "labels": labels}, "spec": spec}  # fmt: skip
    return Request(group, versions[0], kind, Operation.CREATE, "default", "fetch", obj)


@pytest.mark.parametrize("mode", ["warn", "enforce"])
def test_every_boundary_of_the_replica_policies(mode: str) -> None:
    """Each kind, transport and replica count around the thresholds (1 and each other): stdio-replicas,
    session-storage, affinity-with-redis and backend-affinity decide on exactly these."""
    config = validate(PolicyConfig, {"policies": {pid: {"mode": mode} for pid in POLICY_IDS}})
    policies = pa.compile_all(admission_policies(config))
    labels = ({"toolhive": "true"}, {"toolhive": "true", "toolhive-transport": "stdio"})
    for kind in ("StatefulSet", "MCPServer", "MCPRemoteProxy"):
        for transport in (None, "stdio", "sse"):
            for replicas in GRID_NUMBERS:
                for backends in GRID_NUMBERS:
                    for storage in (None, {"provider": "redis"}):
                        for affinity in (None, "None"):
                            for marks in labels:
                                fields = {"transport": transport, "replicas": replicas,
                                          "backendReplicas": backends, "sessionStorage": storage,
                                          "sessionAffinity": affinity}  # fmt: skip
                                request = _resource(kind, marks, **fields)
                                check(config, policies, request, list(range(len(policies.mutating))))


@pytest.mark.parametrize("mode", ["warn", "enforce"])
@pytest.mark.parametrize("minimum", [1, 30])
def test_every_boundary_of_termination_grace(mode: str, minimum: int) -> None:
    config = validate(
        PolicyConfig, {"policies": {"termination-grace": {"mode": mode, "minSeconds": minimum}}}
    )
    policies = pa.compile_all(admission_policies(config))
    for kind in ("StatefulSet", "Deployment", "MCPServer", "VirtualMCPServer"):
        for seconds in (None, 0, minimum - 1, minimum, minimum + 1, 29.0, True):
            pod = {"spec": {} if seconds is None else {"terminationGracePeriodSeconds": seconds}}
            field = "podTemplateSpec" if kind.startswith(("MCP", "Virtual")) else "template"
            request = _resource(kind, {"toolhive": "true"}, **{field: pod})
            check(config, policies, request, list(range(len(policies.mutating))))


SERVICE_SPECS: list[dict[str, Any]] = [
    {},
    {"sessionAffinity": "ClientIP"},
    {"sessionAffinity": "None", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}}},
    {"type": "ExternalName"},
    {"clusterIP": "None"},
    {"clusterIPs": ["None"]},
    {"clusterIPs": ["10.0.0.1", "None"]},
]


@pytest.mark.parametrize("timeout", [1800, 60])
def test_every_service_case_of_session_affinity(timeout: int) -> None:
    config = validate(PolicyConfig, {"policies": {"session-affinity": {"timeoutSeconds": timeout}}})
    policies = pa.compile_all(admission_policies(config))
    owners: list[list[dict[str, Any]]] = [
        [],
        [{"apiVersion": f"{TOOLHIVE_GROUP}/v1alpha1", "kind": "MCPServer", "name": "f", "controller": True}],
        [{"apiVersion": f"{TOOLHIVE_GROUP}/v1alpha1", "kind": "MCPServer", "name": "f", "controller": False}],
        [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "f", "controller": True},
         {"apiVersion": TOOLHIVE_GROUP, "kind": "MCPServer", "name": "f", "controller": True}],
        [{"apiVersion": "v1", "kind": "ConfigMap", "name": "f"}] * (MAX_OWNER_REFERENCES + 1),
    ]  # fmt: skip
    for spec in SERVICE_SPECS:
        for refs in owners:
            request = _resource("Service", {"toolhive": "true"}, **spec)
            request.object["metadata"]["ownerReferences"] = refs
            check(config, policies, request, [0, 1, 2, 3])


def test_no_policy_selects_what_is_not_an_mcp_workload() -> None:
    """Ordinary objects, opted-out ones, excluded namespaces, subresources: no policy's matchConstraints
    and matchConditions let it even run, so nothing of them can be touched or judged."""
    config = PolicyConfig()
    policies = pa.compile_all(admission_policies(config))
    every = [*policies.mutating, *(p for p, _ in policies.validating)]
    ordinary = _resource("StatefulSet", {"app": "web"}, replicas=3, selector={"matchLabels": {"app": "web"}})
    opted_out = _resource("MCPServer", {}, replicas=3, transport="stdio")
    opted_out.object["metadata"]["annotations"] = {"mcp-admission.io/skip-policies": " * "}
    requests = [
        ordinary,
        _resource("Service", {"app": "web"}),
        _resource("ConfigMap", {"toolhive": "true"}),
        _resource("EmbeddingServer", {}),
        opted_out,
        _resource("MCPServer", {})._replace(namespace="kube-system"),
        _resource("StatefulSet", {"toolhive": "true"}, replicas=3)._replace(sub_resource="scale"),
    ]
    for request in requests:
        assert not any(pa.selects(policy, request, request.object) for policy in every), request
        assert decide(request, config) == Decision()  # nor does the engine
    one = _resource("MCPServer", {}, replicas=3, transport="stdio")
    one.object["metadata"]["annotations"] = {"mcp-admission.io/skip-policies": "stdio-replicas"}
    chosen = {p.name for p in every if pa.selects(p, one, one.object)}
    assert "mcp-stdio-replicas" not in chosen and "mcp-session-storage" in chosen


# JSON values Python reads as false (`x or default`, `if x`), and some it reads as true.
FALSY: tuple[Any, ...] = (None, False, 0, 0.0, "", [], {})
TRUTHY: tuple[Any, ...] = (True, 1, 0.5, "x", [{"key": "a", "operator": "Exists"}], {"a": 1})


def test_every_falsy_and_truthy_value_where_the_engine_reads_truthiness() -> None:
    """affinity-with-redis (`sessionAffinity or "ClientIP"`) and statefulset-dns (`if matchExpressions`)."""
    config = PolicyConfig()
    policies = pa.compile_all(admission_policies(config))
    for affinity in (*FALSY, *TRUTHY, "ClientIP", "None"):
        for storage in (None, {"provider": "redis"}):
            request = _resource("MCPServer", {}, replicas=2, sessionStorage=storage, sessionAffinity=affinity)
            check(config, policies, request, [0, 1, 2, 3])
    selectors: list[dict[str, Any]] = [
        {"matchLabels": {"app": "fetch"}},
        {},
        {"matchLabels": {}},
        {"matchLabels": {"app": 1}},
    ]
    for expressions in (*FALSY, *TRUTHY):
        for selector in selectors:
            for operation in (Operation.CREATE, Operation.UPDATE):
                request = _statefulset(selector={**selector, "matchExpressions": expressions})
                old = {**request.object, "spec": {"serviceName": "mcp-fetch-headless"}}
                request = request._replace(
                    operation=operation, old_object=old if operation == "UPDATE" else None
                )
                check(config, policies, request, [0, 1, 2, 3])


def test_every_way_a_statefulset_names_its_transport() -> None:
    """recognise_object's transport: our label, else ToolHive's (an empty one counts as none, except that a
    StatefulSet marked by its labels then has none), else the first matching selector's — as stdio-replicas
    and statefulset-dns read it."""
    values = (None, "", "stdio", "sse", 1)
    chains: tuple[list[dict[str, Any]], ...] = (
        [],
        [{"matchLabels": {"app": "fetch"}, "transport": "stdio"}],
        [{"matchLabels": {"app": "fetch"}}, {"matchLabels": {"app": "fetch"}, "transport": "stdio"}],
        [
            {"matchLabels": {"app": "other"}, "transport": "sse"},
            {"namespaces": ["default"], "transport": "stdio"},
        ],
    )
    for chain in chains:
        config = validate(PolicyConfig, {"workloads": {"selectors": chain}})
        policies = pa.compile_all(admission_policies(config))
        for ours in values:
            for theirs in values:
                for marks in ({"app": "fetch"}, {"app": "fetch", "toolhive": "true"}):
                    labels = {**marks, "mcp-admission.io/transport": ours, "toolhive-transport": theirs}
                    labels = {key: value for key, value in labels.items() if value is not None}
                    request = _statefulset(replicas=3, selector={"matchLabels": {"app": "fetch"}})
                    request.object["metadata"]["labels"] = labels
                    check(config, policies, request, list(range(len(policies.mutating))))
