"""Each policy's rule, and the engine around them: what applies, what a mode does, what a warning says."""

from __future__ import annotations

import copy
import sys
from typing import Any

import jsonpatch
import pytest

from mcp_admission.policies import (
    ALL_POLICIES,
    Decision,
    Finding,
    Mode,
    Operation,
    Outcome,
    Phase,
    PolicyConfig,
    PolicySettings,
    Request,
    decide,
    warning_text,
    workload_of,
)
from mcp_admission.policies.engine.backend import MAX_SELECTOR_LABELS, TOO_MANY_LABELS
from mcp_admission.policies.engine.patch import pointer, set_members, set_value
from mcp_admission.policies.engine.workloads import (
    MAX_OWNER_REFERENCES,
    MAX_SKIP_LENGTH,
    SKIP_ANNOTATION,
    SPACES,
)
from mcp_admission.records import validate
from tests.support.policies import a_policy

from .apiserver_rules import service_problems, statefulset_update_problems
from .toolhive_objects import backend_service, backend_statefulset, mcpserver_like, proxy_service, request_for

CONFIG = PolicyConfig()


def config(**modes: str) -> PolicyConfig:
    return validate(PolicyConfig, {"policies": {k.replace("_", "-"): {"mode": v} for k, v in modes.items()}})


def applied(request: Request, decision: Decision) -> Any:
    return jsonpatch.apply_patch(request.object, list(decision.patch))


# --- session-affinity -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "svc",
    [proxy_service("fetch"), backend_service("fetch", headless=False)],
    ids=["proxy mcp-X-proxy", "backend mcp-X"],
)
def test_mcp_services_become_sticky_with_the_configured_timeout(svc: dict[str, Any]) -> None:
    request = request_for(svc)
    assert request.object["spec"]["sessionAffinity"] == "None"  # as the apiserver defaulted it
    decision = decide(request, CONFIG)
    result = applied(request, decision)
    assert result["spec"]["sessionAffinity"] == "ClientIP"
    assert result["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 1800}}
    assert service_problems(result) == []
    assert [warning_text(w) for w in decision.warnings] == [
        "session-affinity: set sessionAffinity ClientIP (1800s) so MCP sessions stay on one pod"
    ]


def test_timeout_is_configurable() -> None:
    cfg = validate(PolicyConfig, {"policies": {"session-affinity": {"timeoutSeconds": 600}}})
    request = request_for(proxy_service("fetch"))
    assert applied(request, decide(request, cfg))["spec"]["sessionAffinityConfig"]["clientIP"] == {
        "timeoutSeconds": 600
    }


def test_existing_client_ip_is_respected_even_with_the_apiserver_default_timeout() -> None:
    svc = proxy_service("fetch")
    svc["spec"]["sessionAffinity"] = "ClientIP"  # the apiserver adds timeoutSeconds 10800
    request = request_for(svc)
    assert request.object["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    assert decide(request, CONFIG) == Decision()


@pytest.mark.parametrize(
    "spec",
    [
        {"clusterIP": "None"},
        {"clusterIPs": ["None"]},
        {"type": "ExternalName", "externalName": "mcp.example.com"},
    ],
    ids=["headless", "headless-clusterIPs", "ExternalName"],
)
def test_headless_and_external_name_services_are_never_touched(spec: dict[str, Any]) -> None:
    svc = proxy_service("fetch")
    svc["spec"].update(spec)
    assert decide(request_for(svc), CONFIG) == Decision()


def test_stale_affinity_config_under_none_is_replaced_not_left_invalid() -> None:
    svc = proxy_service("fetch")
    svc["spec"]["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 999999}}
    request = request_for(svc)
    result = applied(request, decide(request, CONFIG))
    assert service_problems(result) == []


def test_service_opting_out_keeps_none() -> None:
    svc = proxy_service("fetch")
    svc["metadata"]["annotations"] = {SKIP_ANNOTATION: "stdio-replicas, session-affinity"}
    assert decide(request_for(svc), CONFIG) == Decision()


def test_service_update_back_to_none_is_made_sticky_again() -> None:
    old = request_for(proxy_service("fetch")).object
    old = jsonpatch.apply_patch(old, list(decide(request_for(proxy_service("fetch")), CONFIG).patch))
    request = request_for(proxy_service("fetch"), Operation.UPDATE, old=old)
    assert applied(request, decide(request, CONFIG))["spec"]["sessionAffinity"] == "ClientIP"


TOOLHIVE_PROXY_SERVICES = {  # kind → the proxy Service ToolHive's operator makes for resource X
    "MCPServer": "mcp-fetch-proxy",
    "MCPRemoteProxy": "mcp-fetch-remote-proxy",
    "VirtualMCPServer": "vmcp-fetch",
}


def controlled_proxy_service(kind: str, controller: bool = True) -> dict[str, Any]:
    """A proxy Service as the operator creates it: its resource is its controller (SetControllerReference)."""
    svc = proxy_service("fetch")
    svc["metadata"]["name"] = TOOLHIVE_PROXY_SERVICES[kind]
    svc["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "toolhive.stacklok.dev/v1beta1",
            "kind": kind,
            "name": "fetch",
            "uid": "6d1c9f4e-0000-4000-8000-000000000001",
            "controller": controller,
            "blockOwnerDeletion": True,
        }
    ]
    return svc


@pytest.mark.parametrize("kind", sorted(TOOLHIVE_PROXY_SERVICES))
def test_services_a_toolhive_resource_controls_are_left_to_it(kind: str) -> None:
    """The operator writes the resource's spec.sessionAffinity there on every reconcile: never fight it."""
    svc = controlled_proxy_service(kind)  # sessionAffinity None: the resource asked for it
    assert decide(request_for(svc), CONFIG) == Decision()
    sticky = copy.deepcopy(svc)
    sticky["spec"]["sessionAffinity"] = "ClientIP"
    # The operator's Update back to the resource's None, after someone made it sticky.
    assert decide(request_for(svc, Operation.UPDATE, old=sticky), CONFIG) == Decision()


def test_a_toolhive_owner_that_is_not_the_controller_does_not_count() -> None:
    svc = controlled_proxy_service("MCPServer", controller=False)
    assert decide(request_for(svc), CONFIG).patch
    # Nor does a controller of another group with a ToolHive kind's name.
    svc = controlled_proxy_service("MCPServer")
    svc["metadata"]["ownerReferences"][0]["apiVersion"] = "example.com/v1"
    assert decide(request_for(svc), CONFIG).patch


def test_the_backend_service_the_proxy_runner_applies_is_already_what_we_would_make() -> None:
    """mcp-X, controlled by its StatefulSet: the runner applies ClientIP 1800 s (createMCPService)."""
    svc = backend_service("fetch", headless=False)
    svc["spec"]["sessionAffinity"] = "ClientIP"
    svc["spec"]["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 1800}}
    assert decide(request_for(svc, Operation.UPDATE, old=svc), CONFIG) == Decision()


# --- statefulset-dns --------------------------------------------------------------------------


def test_create_names_the_headless_service() -> None:
    request = request_for(backend_statefulset("fetch"))
    decision = decide(request, CONFIG)
    assert list(decision.patch) == [
        {"op": "replace", "path": "/spec/serviceName", "value": "mcp-fetch-headless"}
    ]
    assert [warning_text(w) for w in decision.warnings] == [
        "statefulset-dns: serviceName set to mcp-fetch-headless for pod DNS"
    ]


def test_create_without_service_name_adds_it() -> None:
    sts = backend_statefulset("fetch")
    del sts["spec"]["serviceName"]
    request = request_for(sts)
    assert list(decide(request, CONFIG).patch) == [
        {"op": "add", "path": "/spec/serviceName", "value": "mcp-fetch-headless"}
    ]


def test_pattern_is_configurable_and_names_must_be_valid_services() -> None:
    cfg = validate(PolicyConfig, {"policies": {"statefulset-dns": {"serviceNamePattern": "{name}-pods"}}})
    request = request_for(backend_statefulset("fetch"))
    assert applied(request, decide(request, cfg))["spec"]["serviceName"] == "fetch-pods"
    long_name = request_for(backend_statefulset("x" * 60))  # mcp-<60>-headless > 63 characters
    decision = decide(long_name, CONFIG)
    assert decision.patch == ()
    assert decision.warnings[0].policy == "statefulset-dns"


def updated(old_name: str, new_name: str) -> Request:
    old, new = backend_statefulset("fetch"), backend_statefulset("fetch")
    old["spec"]["serviceName"], new["spec"]["serviceName"] = old_name, new_name
    return request_for(new, Operation.UPDATE, old=old)


def test_update_reapplying_the_original_manifest_keeps_the_headless_name() -> None:
    """Flux, Argo CD and ToolHive's proxy runner re-apply `serviceName: fetch`: keep the stored value."""
    request = updated("mcp-fetch-headless", "fetch")
    decision = decide(request, CONFIG)
    result = applied(request, decision)
    assert statefulset_update_problems(request.old_object, result) == []
    assert [w.message for w in decision.warnings] == ["kept serviceName mcp-fetch-headless: it is immutable"]


def test_update_of_a_legacy_statefulset_only_warns_how_to_recreate() -> None:
    decision = decide(updated("fetch", "fetch"), CONFIG)
    assert decision.patch == ()
    assert "kubectl delete sts --cascade=orphan, re-apply" in decision.warnings[0].message
    changing = decide(updated("fetch", "mcp-fetch-headless"), CONFIG)
    assert changing.patch == () and "immutable" in changing.warnings[0].message


def test_update_already_right_says_nothing() -> None:
    assert decide(updated("mcp-fetch-headless", "mcp-fetch-headless"), CONFIG) == Decision()


def test_enforce_denies_what_no_patch_can_fix_and_still_fixes_the_rest() -> None:
    cfg = config(statefulset_dns="enforce")
    denied = decide(updated("fetch", "fetch"), cfg)
    assert not denied.allowed and denied.patch == ()
    assert denied.denial is not None and denied.denial.policy == "statefulset-dns"
    fixed = decide(request_for(backend_statefulset("fetch")), cfg)
    assert fixed.allowed and fixed.patch


# --- stdio-replicas ---------------------------------------------------------------------------


def test_stdio_statefulset_is_capped_and_sse_is_not() -> None:
    request = request_for(backend_statefulset("fetch", transport="stdio", replicas=3))
    decision = decide(request, CONFIG)
    assert {"op": "replace", "path": "/spec/replicas", "value": 1} in decision.patch
    assert applied(request, decision)["spec"]["replicas"] == 1
    sse = decide(request_for(backend_statefulset("fetch", transport="sse", replicas=3)), CONFIG)
    assert all(op["path"] != "/spec/replicas" for op in sse.patch)


def mcpserver(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "toolhive.stacklok.dev/v1alpha1",
        "kind": "MCPServer",
        "metadata": {"name": "fetch", "namespace": "team"},
        "spec": {"image": "mcp/fetch", **spec},
    }


def test_absent_replicas_is_never_added() -> None:
    assert decide(request_for(mcpserver()), CONFIG) == Decision()


@pytest.mark.parametrize("value", [True, "3", 3.5, None, [3], {"n": 3}, -1, 0, 1])
def test_odd_or_small_replica_values_are_left_to_the_apiserver(value: Any) -> None:
    decision = decide(request_for(mcpserver(replicas=value)), CONFIG)
    assert decision.patch == () and decision.errors == ()


# --- the resources' own affinity: affinity-with-redis, backend-affinity ----------------------

NONE_WITHOUT_REDIS = (
    "sessionAffinity None, 3 replicas, no redis: a session's requests reach pods that lack it"
)
CLIENT_IP_WITH_REDIS = (
    "sessions are in redis: ClientIP pins clients behind a proxy to one pod; use sessionAffinity None"
)


def resource(kind: str, affinity: str | None, redis: bool, replicas: int | None) -> dict[str, Any]:
    obj = mcpserver_like(kind, "fetch")
    if kind == "MCPServer":
        obj["spec"]["transport"] = "streamable-http"
    if affinity is not None:
        obj["spec"]["sessionAffinity"] = affinity
    if redis:
        obj["spec"]["sessionStorage"] = {"provider": "redis", "address": "redis:6379"}
    if replicas is not None:
        obj["spec"]["replicas"] = replicas
    return obj


@pytest.mark.parametrize("kind", sorted(TOOLHIVE_PROXY_SERVICES))
@pytest.mark.parametrize("affinity", ["ClientIP", "None", None])
@pytest.mark.parametrize("redis", [True, False], ids=["redis", "no-redis"])
@pytest.mark.parametrize("replicas", [None, 1, 3])
def test_the_resource_hears_whether_its_affinity_fits_its_sessions(
    kind: str, affinity: str | None, redis: bool, replicas: int | None
) -> None:
    decision = decide(request_for(resource(kind, affinity, redis, replicas)), CONFIG)
    said = [w.message for w in decision.warnings if w.policy == "affinity-with-redis"]
    sticky = affinity != "None"  # absent: the CRD default, ClientIP
    if replicas == 3 and redis and sticky:
        assert said == [CLIENT_IP_WITH_REDIS]
    elif replicas == 3 and not redis and not sticky:
        assert said == [NONE_WITHOUT_REDIS]
    else:
        assert said == []
    assert decision.patch == ()  # advice only: the operator owns the Service it would change


def test_enforce_denies_none_without_redis() -> None:
    request = request_for(resource("VirtualMCPServer", "None", False, 3))
    denial = decide(request, config(affinity_with_redis="enforce", session_storage="off")).denial
    assert denial == Finding("affinity-with-redis", NONE_WITHOUT_REDIS)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"transport": "sse", "backendReplicas": 3}, "backendReplicas 3 > replicas 1"),  # replicas absent
        (
            {"transport": "streamable-http", "backendReplicas": 3, "replicas": 2},
            "backendReplicas 3 > replicas 2",
        ),
        ({"transport": "sse", "backendReplicas": 3, "replicas": 3}, None),
        ({"transport": "sse", "backendReplicas": 2, "replicas": 0}, None),  # no proxy: nothing served
        ({"transport": "sse", "backendReplicas": 1}, None),
        ({"transport": "sse", "replicas": 3}, None),
        ({"transport": "stdio", "backendReplicas": 3}, None),  # no backend Service (and capped)
        ({"backendReplicas": 3}, None),  # the CRD's default transport: stdio
    ],
)
def test_more_backends_than_proxy_pods_leaves_some_idle(spec: dict[str, Any], expected: str | None) -> None:
    decision = decide(request_for(mcpserver(**spec)), CONFIG)
    said = [w.message for w in decision.warnings if w.policy == "backend-affinity"]
    if expected is None:
        assert said == []
    else:
        assert said == [f"{expected}: ClientIP pins each proxy pod to one backend pod"]


@pytest.mark.parametrize("kind", ["MCPRemoteProxy", "VirtualMCPServer"])
def test_backend_affinity_is_about_mcpserver_backends_only(kind: str) -> None:
    obj = mcpserver_like(kind, "fetch")
    obj["spec"].update(backendReplicas=3, transport="sse")
    assert not [w for w in decide(request_for(obj), CONFIG).warnings if w.policy == "backend-affinity"]


# --- engine -----------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", [Operation.DELETE, Operation.CONNECT])
def test_delete_and_connect_are_allowed_untouched(operation: Operation) -> None:
    request = request_for(backend_statefulset("fetch", transport="stdio", replicas=3))
    assert decide(Request(**{**_fields(request), "operation": operation}), CONFIG) == Decision()
    assert (
        decide(Request(**{**_fields(request), "operation": operation, "object": None}), CONFIG) == Decision()
    )


def _fields(request: Request) -> dict[str, Any]:
    return request._asdict()


def test_subresources_and_excluded_namespaces_are_skipped() -> None:
    request = request_for(backend_statefulset("fetch", transport="stdio", replicas=3))
    assert decide(Request(**{**_fields(request), "sub_resource": "scale"}), CONFIG) == Decision()
    cfg = PolicyConfig(excluded_namespaces=frozenset({"toolhive-system"}))
    assert decide(request, cfg) == Decision()


def test_objects_that_are_not_mcp_workloads_get_nothing() -> None:
    svc = proxy_service("fetch")
    svc["metadata"]["labels"] = {"app": "web"}
    assert decide(request_for(svc), CONFIG) == Decision()
    embedding = mcpserver(replicas=5)
    embedding["kind"] = "EmbeddingServer"
    assert decide(request_for(embedding), CONFIG) == Decision()


def test_opt_in_label_and_selectors_mark_plain_workloads() -> None:
    svc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "my-mcp", "labels": {}},
        "spec": {"ports": [{"port": 80}]},
    }
    assert decide(request_for(svc), CONFIG) == Decision()
    svc["metadata"]["labels"] = {"mcp-admission.io/workload": "true"}
    assert decide(request_for(svc), CONFIG).patch
    svc["metadata"]["labels"] = {"tier": "mcp"}
    cfg = validate(
        PolicyConfig,
        {
            "workloads": {
                "selectors": [
                    {
                        "kinds": ["Service"],
                        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["mcp"]}],
                    }
                ]
            }
        },
    )
    assert decide(request_for(svc), cfg).patch
    sts = backend_statefulset("plain", replicas=4)
    sts["metadata"]["labels"] = {"tier": "mcp"}
    cfg = validate(
        PolicyConfig, {"workloads": {"selectors": [{"matchLabels": {"tier": "mcp"}, "transport": "stdio"}]}}
    )
    assert {"op": "replace", "path": "/spec/replicas", "value": 1} in decide(request_for(sts), cfg).patch
    # Selected by the opt-in label, but only a selector says the transport: the selector still tells it.
    sts["metadata"]["labels"] = {"tier": "mcp", "mcp-admission.io/workload": "true"}
    assert {"op": "replace", "path": "/spec/replicas", "value": 1} in decide(request_for(sts), cfg).patch
    del sts["metadata"]["labels"]["tier"]
    assert not any(op["path"] == "/spec/replicas" for op in decide(request_for(sts), cfg).patch)


def test_off_mode_and_skip_all_annotation() -> None:
    request = request_for(backend_statefulset("fetch", transport="sse", replicas=3))
    only_dns = decide(request, config(stdio_replicas="off"))
    assert [op["path"] for op in only_dns.patch] == ["/spec/serviceName"]
    stdio = request_for(backend_statefulset("fetch", transport="stdio", replicas=3))
    assert decide(stdio, config(stdio_replicas="off")) == Decision()  # stdio: no serviceName either
    sts = backend_statefulset("fetch", transport="stdio", replicas=3)
    sts["metadata"]["annotations"] = {SKIP_ANNOTATION: "*"}
    assert decide(request_for(sts), CONFIG) == Decision()


@pytest.mark.parametrize(
    ("value", "skipped"),
    [
        (" * ", True),
        ("session-affinity,\u3000*\u2028", True),  # Unicode spaces (White_Space) around an entry
        ("\u0085*\u00a0,x", True),
        ("\x1c*", False),  # an information separator: str.strip() strips it, White_Space has not it
        ("*\x1f", False),
        ("\u200b*", False),  # zero-width space: not White_Space either
        ("* a", False),
        (",,", False),
        (" " * (MAX_SKIP_LENGTH - 1) + "*", True),  # the longest annotation read
        (" " * MAX_SKIP_LENGTH + "*", False),  # longer: opts out of nothing
    ],
)
def test_skip_all_is_a_star_between_commas_and_unicode_spaces(value: str, skipped: bool) -> None:
    sts = backend_statefulset("fetch", transport="stdio", replicas=3)
    sts["metadata"]["annotations"] = {SKIP_ANNOTATION: value}
    assert (decide(request_for(sts), CONFIG) == Decision()) is skipped


def test_the_spaces_around_opt_out_entries_are_unicodes_white_space() -> None:
    """SPACES is one precise definition, the same in the engine and the matchConditions' regular
    expression: what Python's str.isspace() says, less U+001C..U+001F (which Unicode's White_Space
    and Go's unicode.IsSpace leave out)."""
    python = {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}
    assert set(SPACES) == python - set("\x1c\x1d\x1e\x1f")
    assert len(SPACES) == len(set(SPACES)) == 25


def test_a_service_with_more_owners_than_the_bound_is_not_recognised_by_them() -> None:
    """The matchConditions iterate at most MAX_OWNER_REFERENCES ownerReferences; past that the engine
    decides as they do: the owners do not make the Service an MCP workload (labels still would)."""
    svc = backend_service("fetch", headless=False)
    owner = svc["metadata"]["ownerReferences"][0]
    others = [{**owner, "name": f"other-{i}", "controller": False} for i in range(MAX_OWNER_REFERENCES)]
    svc["metadata"]["ownerReferences"] = [*others[1:], owner]
    assert decide(request_for(svc), CONFIG).patch  # at the bound: the last one counts
    svc["metadata"]["ownerReferences"] = [*others, owner]
    assert decide(request_for(svc), CONFIG) == Decision()
    # Its labels still make it one; session-affinity then reads no controller among that many owners and
    # leaves the Service to them, as the MutatingAdmissionPolicy does (its loop has the same bound).
    svc["metadata"]["labels"] = {"toolhive": "true"}
    assert workload_of(request_for(svc), CONFIG) is not None
    assert decide(request_for(svc), CONFIG) == Decision()
    svc["metadata"]["ownerReferences"] = others
    assert decide(request_for(svc), CONFIG).patch


def test_a_selector_with_more_match_labels_than_the_bound_gets_no_service_name() -> None:
    """The admission policies' CEL reads a selector's matchLabels up to MAX_SELECTOR_LABELS; past that the
    engine decides as they do (the reconciler, which asks the same question, makes no Services)."""
    sts = backend_statefulset("fetch")
    labels = {f"l{i}": "x" for i in range(MAX_SELECTOR_LABELS)}
    sts["spec"]["selector"] = {"matchLabels": labels}
    assert decide(request_for(sts), CONFIG).patch
    sts["spec"]["selector"] = {"matchLabels": {**labels, "one": "more"}}
    decision = decide(request_for(sts), CONFIG)
    assert not decision.patch
    assert [w.message for w in decision.warnings] == [f"no pod DNS: {TOO_MANY_LABELS}"]


def test_enforce_denies_unshared_sessions_in_the_validating_phase_only() -> None:
    request = request_for(mcpserver(transport="sse", replicas=3))
    cfg = config(session_storage="enforce")
    assert decide(request, cfg, Phase.MUTATE) == Decision()
    decision = decide(request, cfg, Phase.VALIDATE)
    assert decision.denial == Finding(
        "session-storage", "spec.replicas 3 without sessionStorage redis: sessions are not shared"
    )


def raising(request: Request, workload: Any, settings: PolicySettings) -> Outcome:
    raise KeyError("boom")


def test_a_policy_that_raises_is_contained_and_named() -> None:
    broken = a_policy("broken", raising)
    request = request_for(backend_statefulset("fetch", transport="stdio", replicas=3))
    decision = decide(request, CONFIG, policies=(broken, *ALL_POLICIES))
    assert decision.allowed
    assert [e.policy for e in decision.errors] == ["broken"]
    assert decision.warnings[0] == Finding("broken", "internal error; policy skipped for this object")
    assert [op["path"] for op in decision.patch] == ["/spec/replicas"]  # stdio: no serviceName


def shouting(request: Request, workload: Any, settings: PolicySettings) -> Outcome:
    name = workload.name
    return Outcome(
        findings=(
            Finding("loud", f"bad\tname\n{name}"),
            Finding("loud", f"bad\tname\n{name}"),
            Finding("loud", "x" * 500),
        )
    )


def test_warnings_are_printable_short_and_unique() -> None:
    loud = a_policy("loud", shouting, phase=Phase.VALIDATE)
    decision = decide(request_for(backend_statefulset("fetch")), CONFIG, policies=(loud,))
    texts = [warning_text(w) for w in decision.warnings]
    assert texts[0] == "loud: bad name fetch"
    assert len(texts) == 2 and len(texts[1]) == 120 and texts[1].endswith("…")
    assert all(t.isprintable() for t in texts)


def test_decisions_are_deterministic_and_inputs_untouched() -> None:
    request = request_for(backend_statefulset("fetch", transport="stdio", replicas=3))
    before = copy.deepcopy(request.object)
    assert decide(request, CONFIG) == decide(request, CONFIG)
    assert request.object == before


def test_pointer_escaping_and_parents_first() -> None:
    doc: dict[str, Any] = {"metadata": {"annotations": {"a/b~c": "old"}}}
    assert pointer("metadata", "annotations", "a/b~c") == "/metadata/annotations/a~1b~0c"
    (op,) = set_value(doc, ("metadata", "annotations", "a/b~c"), "new")
    assert jsonpatch.apply_patch(doc, [op])["metadata"]["annotations"]["a/b~c"] == "new"
    (parent,) = set_value({"spec": {}}, ("spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds"), 5)
    assert parent == {
        "op": "add",
        "path": "/spec/sessionAffinityConfig",
        "value": {"clientIP": {"timeoutSeconds": 5}},
    }
    assert set_value({"spec": {"x": 1}}, ("spec", "x"), 1) == ()
    assert set_value({"spec": {"x": True}}, ("spec", "x"), 1) != ()  # True == 1 in Python, not in JSON
    assert pointer("a~", "b/", "c") == "/a~0/b~1/c"


def test_set_members_writes_each_member_once_and_a_missing_parent_whole() -> None:
    members = {"sessionAffinity": "ClientIP", "a/b": {"c": 1}, "same": 2}
    doc: dict[str, Any] = {"spec": {"sessionAffinity": "None", "same": 2}}
    patch = set_members(doc, ("spec",), members)
    assert patch == (
        {"op": "replace", "path": "/spec/sessionAffinity", "value": "ClientIP"},
        {"op": "add", "path": "/spec/a~1b", "value": {"c": 1}},
    )
    assert jsonpatch.apply_patch(doc, list(patch))["spec"] == members
    for missing in ({}, {"spec": None}):  # absent, or not an object: the parent goes in whole
        (parent,) = set_members(missing, ("spec", "x"), members)
        assert jsonpatch.apply_patch(missing, [parent]) == {"spec": {"x": members}}
    assert set_members({"k": 1}, (), {"k": 1, "n": 2}) == ({"op": "add", "path": "/n", "value": 2},)
    assert set_members({}, ("spec",), {}) == ()  # no members: no parent added either


def test_every_policy_has_a_stable_id_summary_and_mode_key() -> None:
    ids = [p.id for p in ALL_POLICIES]
    assert ids == [
        "session-affinity",
        "statefulset-dns",
        "stdio-replicas",
        "session-storage",
        "affinity-with-redis",
        "backend-affinity",
        "termination-grace",
    ]
    assert set(CONFIG.modes) == set(ids) and set(CONFIG.modes.values()) == {Mode.WARN}
    assert all(p.summary for p in ALL_POLICIES)
