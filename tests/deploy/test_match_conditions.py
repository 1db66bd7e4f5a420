"""The rendered matchConditions send a request exactly when the engine would decide it.

"Decide" is the engine's own predicate: `workload_of` finds an MCP workload (recognised, namespace not
excluded, not opted out with "*", CREATE or UPDATE, no subresource) of a kind a policy of the webhook's
phase reads, for an operation that policy acts on. A false negative would be a missed policy, a false
positive a wasted call: the tests demand equality, on the apiserver's whole path (rules,
namespaceSelector, every matchCondition in real CEL) and for random configurations and objects of
every shape, odd types included: no condition may ever fail.

Policy modes are not part of it on purpose: switching a policy `off` needs no new rendering (it only
costs calls for MCP objects), and naming every policy in the opt-out annotation instead of "*" is
rare enough to cost a call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_admission.deploy import webhook_configurations
from mcp_admission.policies import ALL_POLICIES, Operation, Phase, PolicyConfig, Request, workload_of
from mcp_admission.policies.engine.workloads import MAX_SKIP_LENGTH, SPACES, TOOLHIVE_GROUP
from mcp_admission.records import validate
from tests.policies import toolhive_objects

from .apiserver import SERVED, compile_conditions, rules_match, sends

PHASES = (Phase.MUTATE, Phase.VALIDATE)
NAMESPACES = ("default", "mcp", "tools", "kube-system", "mcp-admission")
LABEL_KEYS = (
    "toolhive",
    "app.kubernetes.io/name",
    "mcp-admission.io/workload",
    "example.com/mcp",
    "tier",
    "app",
)
# Values with quotes, backslashes, non-ASCII and control characters test the CEL string literals.
LABEL_VALUES = ("true", "false", "mcpserver", "mcpremoteproxy", "virtualmcpserver", "MCPServer", "mcp", "")
ODD_TEXT = ('say "hi"', "back\\slash", "ünï", "tab\there", "new\nline")
ODD: tuple[Any, ...] = (1, None, True, 1.5, [], {}, ["true"], {"true": "true"})
NAMES = ("fetch", "mcp-fetch", "mcp-fetch-headless", "mcp-other", "mcp-", "mcp--headless", "", "other")
OWNER_NAMES = ("fetch", "other", "")
API_VERSIONS = (
    f"{TOOLHIVE_GROUP}/v1alpha1",
    f"{TOOLHIVE_GROUP}/v1beta1",
    TOOLHIVE_GROUP,
    f"{TOOLHIVE_GROUP}x/v1",
    f"x.{TOOLHIVE_GROUP}/v1",
    "apps/v1",
    "v1",
    "",
)
OWNER_KINDS = (
    "MCPServer",
    "MCPRemoteProxy",
    "VirtualMCPServer",
    "EmbeddingServer",
    "StatefulSet",
    "Deployment",
)
SKIP_VALUES = (
    "*",
    " * ",
    "a,*",
    "*,a",
    "session-affinity",
    "**",
    " , * ,",
    "\t*\n",
    "* a",
    "*a",
    "",
    ",",
    ",,",
    "\u3000*",
    "\u2028*\u00a0",  # Unicode spaces: White_Space, around the entry
    "a,\u0085*\u000b,b",
    "\x1c*",  # what Python's str.strip() also strips, and Unicode's White_Space does not hold
    "*\x1f",
    "\u200b*",  # zero-width space, U+180E, U+FEFF: not White_Space either
    "\u180e*",
    "*\ufeff",
    " " * (MAX_SKIP_LENGTH - 1) + "*",  # the longest annotation read, and one character more
    " " * MAX_SKIP_LENGTH + "*",
    "a," * (MAX_SKIP_LENGTH // 2 - 1) + "*,",
)
# What is not a space around an opt-out entry but looks like one: U+001C..U+001F (str.strip() strips
# them), zero-width space, Mongolian vowel separator (White_Space until Unicode 6.3), BOM.
NEAR_SPACES = "\x1c\x1d\x1e\x1f\u200b\u180e\ufeff"
# Text made mostly of what the opt-out is about (commas, "*", every kind of space, near misses), and
# sometimes any character at all.
TEXT = st.text(
    st.one_of(
        *[st.sampled_from(",*a" + SPACES + NEAR_SPACES)] * 4, st.characters(blacklist_categories=["Cs"])
    ),
    max_size=8,
)
# Opt-out values as entries: a star (or a near miss) with spaces and near-spaces around it.
PADDING = st.text(st.sampled_from(SPACES + NEAR_SPACES), max_size=3)
ENTRY = st.builds(
    lambda before, core, after: before + core + after,
    PADDING,
    st.sampled_from(["*", "*", "**", "* *", "a", ""]),
    PADDING,
)
ENTRIES = st.lists(ENTRY, min_size=1, max_size=3).map(",".join)


def odd_or(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly `strategy`, sometimes a value of another type (about one in six)."""
    return st.one_of(*[strategy] * 5, st.sampled_from(ODD))


label_values = st.sampled_from(("true",) * 4 + LABEL_VALUES[2:5] * 2 + LABEL_VALUES + ODD_TEXT)
requirements = st.one_of(
    st.fixed_dictionaries(
        {
            "key": st.sampled_from(LABEL_KEYS),
            "operator": st.sampled_from(["In", "NotIn"]),
            "values": st.lists(label_values, min_size=1, max_size=3),
        }
    ),
    st.fixed_dictionaries(
        {"key": st.sampled_from(LABEL_KEYS), "operator": st.sampled_from(["Exists", "DoesNotExist"])}
    ),
)
selectors = st.fixed_dictionaries(
    {},
    optional={
        "kinds": st.lists(
            st.sampled_from(["Service", "StatefulSet", "Deployment", "ConfigMap", "MCPServer"])
        ),
        "namespaces": st.lists(st.sampled_from(NAMESPACES), max_size=2),
        "matchLabels": st.dictionaries(st.sampled_from(LABEL_KEYS), label_values, max_size=2),
        "matchExpressions": st.lists(requirements, max_size=2),
        "transport": st.sampled_from(["stdio", "sse", "streamable-http"]),
    },
).filter(lambda s: bool(s.get("matchLabels") or s.get("matchExpressions") or s.get("namespaces")))
configs = st.builds(
    lambda opt_in, chosen, excluded: validate(
        PolicyConfig,
        {"workloads": {"optInLabel": opt_in, "selectors": chosen}, "excludedNamespaces": excluded},
    ),
    st.sampled_from(["mcp-admission.io/workload", "example.com/mcp", "toolhive", "app.kubernetes.io/name"]),
    st.one_of(st.just([]), st.lists(selectors, min_size=1, max_size=3)),  # broad selectors hide the rest
    st.lists(st.sampled_from(NAMESPACES), max_size=2),
)


def mostly(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`strategy`, or (about one in six) None for "leave this key out"."""
    return st.one_of(*[strategy] * 5, st.none())


@st.composite
def some_of(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    """A JSON object with each of `fields` present or not, so every combination comes up often."""
    drawn = {key: draw(strategy) for key, strategy in fields.items() if draw(st.booleans())}
    return {key: value for key, value in drawn.items() if value is not None}


# apiVersion, kind and name each mostly there and strings: an ownerReference counts only with all three.
owner_references = st.fixed_dictionaries(
    {
        "apiVersion": mostly(odd_or(st.sampled_from(API_VERSIONS))),
        "kind": mostly(odd_or(st.sampled_from(OWNER_KINDS))),
        "name": mostly(odd_or(st.sampled_from(OWNER_NAMES))),
        "uid": mostly(st.just("0b6c4d6e")),
    }
).map(lambda ref: {key: value for key, value in ref.items() if value is not None})
skip_annotations = some_of(
    {
        "mcp-admission.io/skip-policies": odd_or(
            st.one_of(*[st.sampled_from(SKIP_VALUES)] * 2, *[ENTRIES] * 2, TEXT)
        ),
        "note": st.sampled_from(SKIP_VALUES),
    }
)
metadata = some_of(
    {
        "name": odd_or(st.sampled_from(NAMES)),
        "labels": odd_or(st.dictionaries(st.sampled_from(LABEL_KEYS), odd_or(label_values), max_size=4)),
        "annotations": odd_or(skip_annotations),
        "ownerReferences": odd_or(st.lists(odd_or(owner_references), min_size=1, max_size=3)),
    }
)


@st.composite
def typical(draw: st.DrawFn) -> dict[str, Any]:
    """Well-formed metadata, as objects have it, where the owner rule and the opt-out come up often:
    the name and the owners' names are drawn together (mcp-X, mcp-X-headless owned by X, and near misses)."""
    owner = draw(st.sampled_from(OWNER_NAMES))
    name = draw(
        st.sampled_from([f"mcp-{owner}", f"mcp-{owner}-headless", owner, f"mcp-{owner}-proxy", "mcp-x"])
    )
    refs = st.fixed_dictionaries(
        {
            "apiVersion": st.sampled_from(API_VERSIONS),
            "kind": st.sampled_from(("StatefulSet",) * 3 + OWNER_KINDS),
            "name": st.sampled_from([owner, owner, "x"]),
            "uid": st.just("0b6c4d6e"),
        }
    )
    meta = {
        "name": name,
        "labels": draw(st.dictionaries(st.sampled_from(LABEL_KEYS), label_values, max_size=2)),
        "ownerReferences": draw(st.lists(refs, min_size=1, max_size=2)),
    }
    if draw(st.booleans()):
        value = draw(st.one_of(st.sampled_from(SKIP_VALUES), ENTRIES))
        meta["annotations"] = {"mcp-admission.io/skip-policies": value}
    return meta


# On CREATE and UPDATE the apiserver always has an object (a JSON object); its metadata may be anything.
objects = st.fixed_dictionaries({"metadata": st.one_of(typical(), odd_or(metadata)), "spec": st.just({})})


# Mostly what the rules send (and a Service most, for its owner rule), sometimes what they do not.
KINDS = ("Service",) * 4 + ("StatefulSet", "Deployment", "MCPServer", "VirtualMCPServer") * 2 + tuple(SERVED)
OPERATIONS = (Operation.CREATE, Operation.UPDATE) * 3 + tuple(Operation)


def drawn_request(
    draw: st.DrawFn, kind: str, operation: Operation, obj: Any, old: Any, sub_resources: list[str]
) -> Request:
    """A request for these, its version, namespace, name and subresource drawn."""
    group, versions, _ = SERVED[kind]
    return Request(
        group=group,
        version=draw(st.sampled_from(versions)),
        kind=kind,
        operation=operation,
        namespace=draw(st.sampled_from(NAMESPACES)),
        name=draw(st.sampled_from(NAMES)),
        object=obj,
        old_object=old,
        sub_resource=draw(st.sampled_from(sub_resources)),
    )


@st.composite
def requests(draw: st.DrawFn) -> Request:
    kind = draw(st.sampled_from(KINDS))
    operation = draw(st.sampled_from(OPERATIONS))
    obj = None if operation in (Operation.DELETE, Operation.CONNECT) else draw(objects)
    old = draw(objects) if operation in (Operation.UPDATE, Operation.DELETE) else None
    return drawn_request(draw, kind, operation, obj, old, ["", "", "", "", "", "status", "scale"])


def decided(request: Request, config: PolicyConfig, phase: Phase) -> bool:
    """The engine decides the request in this phase (it is not answered "allowed" unread)."""
    workload = workload_of(request, config)
    return workload is not None and any(
        policy.phase is phase and workload.kind in policy.kinds and request.operation in policy.operations
        for policy in ALL_POLICIES
    )


def webhooks(config: PolicyConfig, legacy: bool = False) -> dict[Phase, dict[str, Any]]:
    rendered = webhook_configurations(config, legacy=legacy)
    return {
        phase: configuration["webhooks"][0] for phase, configuration in zip(PHASES, rendered, strict=True)
    }


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs, st.lists(requests(), min_size=1, max_size=4))
def test_the_apiserver_sends_exactly_what_the_engine_decides(
    config: PolicyConfig, batch: list[Request]
) -> None:
    for phase, hook in webhooks(config).items():
        compiled = compile_conditions(hook)
        for request in batch:
            assert sends(hook, compiled, request) == decided(request, config, phase), (phase, request)


@settings(deadline=None)
@given(configs, st.lists(requests(), min_size=1, max_size=4))
def test_the_legacy_configurations_miss_nothing_the_engine_decides(
    config: PolicyConfig, batch: list[Request]
) -> None:
    # Without matchConditions more is sent (the webhook answers it "allowed"), never less.
    for phase, hook in webhooks(config, legacy=True).items():
        assert "matchConditions" not in hook
        for request in batch:
            if decided(request, config, phase):
                assert sends(hook, [], request), (phase, request)


def _toolhive_examples(toolhive: Path) -> list[dict[str, Any]]:
    """ToolHive's example resources (not its chainsaw assertions: partial objects) and what its operator
    makes of an MCPServer."""
    paths = [p for p in sorted((toolhive / "examples").glob("*.yaml")) if "__assert-" not in p.name]
    docs = [d for path in paths for d in yaml.safe_load_all(path.read_text())]
    made = [
        toolhive_objects.backend_statefulset("fetch"),
        toolhive_objects.proxy_deployment("fetch"),
        toolhive_objects.proxy_service("fetch"),
        toolhive_objects.backend_service("fetch", headless=True),
        toolhive_objects.backend_service("fetch", headless=False),
    ]
    return [d for d in docs + made if isinstance(d, dict) and d.get("kind") in SERVED]


def _as_request(obj: dict[str, Any], operation: Operation = Operation.CREATE) -> Request:
    group, versions, _ = SERVED[obj["kind"]]
    version = obj["apiVersion"].rpartition("/")[2]
    assert version in versions, obj["apiVersion"]
    meta = obj["metadata"]
    return Request(
        group, version, obj["kind"], operation, meta.get("namespace", "default"), meta.get("name", ""), obj,
        obj if operation is Operation.UPDATE else None,
    )  # fmt: skip


def test_toolhive_objects_are_sent_as_the_engine_decides(toolhive: Path) -> None:
    """ToolHive's own examples and what its operator creates, under the shipped defaults: every one of
    them is an MCP workload the mutating webhook is sent (a positive control for the property test)."""
    config = PolicyConfig()
    hooks = webhooks(config)
    compiled = {phase: compile_conditions(hook) for phase, hook in hooks.items()}
    examples = _toolhive_examples(toolhive)
    kinds = {"MCPServer", "MCPRemoteProxy", "VirtualMCPServer", "Service", "StatefulSet", "Deployment"}
    assert {o["kind"] for o in examples} == kinds
    for obj in examples:
        for operation in (Operation.CREATE, Operation.UPDATE):
            request = _as_request(obj, operation)
            assert sends(hooks[Phase.MUTATE], compiled[Phase.MUTATE], request), obj["metadata"]
            for phase in PHASES:
                assert sends(hooks[phase], compiled[phase], request) == decided(request, config, phase)


def _service(name: str, **metadata: Any) -> Request:
    obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, **metadata}, "spec": {}}
    return Request("", "v1", "Service", Operation.CREATE, "default", name, obj)


def _owner(kind: str, name: str, api_version: str = f"{TOOLHIVE_GROUP}/v1alpha1") -> dict[str, str]:
    return {"apiVersion": api_version, "kind": kind, "name": name, "uid": "0b6c4d6e"}


SKIP = "mcp-admission.io/skip-policies"


@pytest.mark.parametrize(
    ("request_", "sent"),
    [
        (_service("web"), False),  # what nearly every write in a cluster is: never leaves the apiserver
        (_service("web", labels={"app": "web", "tier": "front"}), False),
        (_service("x", labels={"mcp-admission.io/workload": "true"}), True),
        (_service("x", labels={"toolhive": "true"}), True),
        (_service("x", labels={"app.kubernetes.io/name": "mcpserver"}), True),
        (_service("x", labels={"app.kubernetes.io/name": "embeddingserver"}), False),
        (_service("mcp-fetch-headless", ownerReferences=[_owner("StatefulSet", "fetch", "apps/v1")]), True),
        (_service("mcp-fetch", ownerReferences=[_owner("StatefulSet", "fetch", "apps/v1")]), True),
        (_service("mcp-fetch", ownerReferences=[_owner("StatefulSet", "other", "apps/v1")]), False),
        (_service("mcp-fetch-proxy", ownerReferences=[_owner("MCPServer", "fetch")]), True),
        (_service("x", ownerReferences=[_owner("EmbeddingServer", "e")]), False),
        (_service("x", labels={"toolhive": "true"}, annotations={SKIP: " * "}), False),
        (_service("x", labels={"toolhive": "true"}, annotations={SKIP: "session-affinity"}), True),
    ],
)
def test_the_shipped_defaults_on_typical_services(request_: Request, sent: bool) -> None:
    config = PolicyConfig()
    hook = webhooks(config)[Phase.MUTATE]
    assert sends(hook, compile_conditions(hook), request_) is sent
    assert decided(request_, config, Phase.MUTATE) is sent


@pytest.mark.parametrize("labels", [{}, {"toolhive": "true"}])
def test_a_name_still_to_be_generated_fails_no_condition(labels: dict[str, str]) -> None:
    """generateName: on the mutating call the name is not made yet, so neither the object nor the
    request has one (the request's `name` key is absent): nothing to match mcp-X against, no error."""
    meta = {
        "generateName": "mcp-fetch-",
        "labels": labels,
        "ownerReferences": [_owner("StatefulSet", "fetch")],
    }
    request = Request("", "v1", "Service", Operation.CREATE, "default", "", {"metadata": meta})
    hook = webhooks(PolicyConfig())[Phase.MUTATE]
    assert sends(hook, compile_conditions(hook), request) is bool(labels)
    assert decided(request, PolicyConfig(), Phase.MUTATE) is bool(labels)


def test_embedding_servers_are_never_sent() -> None:
    obj = {"apiVersion": f"{TOOLHIVE_GROUP}/v1alpha1", "kind": "EmbeddingServer", "metadata": {"name": "e"}}
    request = Request(TOOLHIVE_GROUP, "v1alpha1", "EmbeddingServer", Operation.CREATE, "default", "e", obj)
    for hook in webhooks(PolicyConfig()).values():
        assert not rules_match(hook, request)


@pytest.mark.parametrize("char", list(SPACES + NEAR_SPACES), ids=lambda c: f"U+{ord(c):04X}")
def test_every_space_and_near_space_around_the_star_as_the_engine_decides(char: str) -> None:
    """Each character of the one definition of a space (SPACES), and each near miss, on either side of
    the star, alone and among other entries: the apiserver sends exactly what the engine decides."""
    config = PolicyConfig()
    hook = webhooks(config)[Phase.MUTATE]
    compiled = compile_conditions(hook)
    for value in (f"{char}*", f"*{char}", f"a,{char}*{char},b", f"{char}{char}*{char}{char}", f"*{char}*"):
        request = _service("x", labels={"toolhive": "true"}, annotations={SKIP: value})
        assert sends(hook, compiled, request) == decided(request, config, Phase.MUTATE), repr(value)
        assert sends(hook, compiled, request) is (char in NEAR_SPACES or value == f"*{char}*"), repr(value)
