"""What --write-mutated writes, as properties: defaulted by the apiserver, the written manifest is what the
webhook would store; checked again, it needs no patch; with no patch, it is the input unchanged. And the
rebasing of a patch onto the manifest as written, case by case."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_admission.check.checker import check, previous_versions
from mcp_admission.check.defaults import with_server_defaults
from mcp_admission.check.loader import Manifest, Source, parse
from mcp_admission.check.mutated import write_mutated
from mcp_admission.check.rebase import rebase
from mcp_admission.policies import PolicyConfig

from ..policies.toolhive_objects import (
    backend_service,
    backend_statefulset,
    mcpserver_like,
    proxy_deployment,
    proxy_service,
)
from .runner import check as run_check
from .test_mutated import COMMENTED_SERVICE, SESSION_AFFINITY

CONFIG = PolicyConfig()
SOURCE = Source("m.yaml", "m.yaml", None)
ABSENT = object()
names = st.from_regex(r"[a-z][a-z0-9-]{0,12}[a-z0-9]", fullmatch=True)


def maybe(draw: st.DrawFn, target: dict[str, Any], key: str, values: st.SearchStrategy[Any]) -> None:
    """Sets target[key] to a drawn value, or removes it: absent is what defaulting fills in."""
    value = draw(st.one_of(st.just(ABSENT), values))
    if value is ABSENT:
        target.pop(key, None)
    else:
        target[key] = value


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, Any]:
    """MCP workloads with the fields the apiserver defaults and the policies set present or absent."""
    # StatefulSets and MCPServers twice: their patches need more fields to line up.
    kinds = [
        "sts",
        "sts",
        "deployment",
        "proxy",
        "backend",
        "opted-in",
        "MCPServer",
        "MCPServer",
        "VirtualMCPServer",
    ]
    kind = draw(st.sampled_from(kinds))
    name = draw(names)
    counts = st.integers(0, 5)
    graces = st.integers(0, 120)
    if kind == "sts":
        obj = backend_statefulset(name, transport=draw(st.sampled_from(["stdio", "sse", "streamable-http"])))
        maybe(draw, obj["spec"], "replicas", counts)
        maybe(draw, obj["spec"], "serviceName", st.sampled_from([name, f"mcp-{name}-headless"]))
        maybe(draw, obj["spec"]["template"]["spec"], "terminationGracePeriodSeconds", graces)
    elif kind == "deployment":
        obj = proxy_deployment(name)
        maybe(draw, obj["spec"], "replicas", counts)
        maybe(draw, obj["spec"]["template"]["spec"], "terminationGracePeriodSeconds", graces)
    elif kind in ("MCPServer", "VirtualMCPServer"):
        obj = mcpserver_like(kind, name)
        for field in ("replicas", "backendReplicas"):
            maybe(draw, obj["spec"], field, counts)
        maybe(draw, obj["spec"], "transport", st.sampled_from(["stdio", "sse", "streamable-http"]))
        maybe(draw, obj["spec"], "sessionAffinity", st.sampled_from(["None", "ClientIP"]))
        maybe(
            draw,
            obj["spec"],
            "podTemplateSpec",
            graces.map(lambda g: {"spec": {"terminationGracePeriodSeconds": g}}),
        )
    else:
        if kind == "proxy":
            obj = proxy_service(name)
        elif kind == "backend":
            obj = backend_service(name, headless=draw(st.booleans()))
        else:
            obj = proxy_service(name)
            obj["metadata"]["labels"] = {"mcp-admission.io/workload": "true"}
        spec = obj["spec"]
        maybe(draw, spec, "type", st.sampled_from(["ClusterIP", "NodePort", "ExternalName"]))
        maybe(draw, spec, "sessionAffinity", st.sampled_from(["None", "ClientIP"]))
        timeouts = st.integers(1, 86400).map(lambda t: {"clientIP": {"timeoutSeconds": t}})
        maybe(
            draw, spec, "sessionAffinityConfig", st.one_of(timeouts, st.just({"clientIP": {}}), st.just({}))
        )
    return obj


@st.composite
def written_as(draw: st.DrawFn, obj: dict[str, Any]) -> str:
    """The manifest as a person, kustomize or kubectl might have written it."""
    style = draw(st.sampled_from(["block", "flow", "mixed", "json"]))
    if style == "json":
        return json.dumps(obj, indent=draw(st.sampled_from([None, 2, 4])))
    text = yaml.safe_dump(
        obj,
        default_flow_style={"block": False, "flow": True, "mixed": None}[style],
        indent=draw(st.sampled_from([2, 4])),
        sort_keys=draw(st.booleans()),
        explicit_start=draw(st.booleans()),
        width=1000,
    )
    if draw(st.booleans()):
        text = "# a comment first\n" + text + "# and one last\n"
    return text.replace("\n", "\r\n") if draw(st.booleans()) else text


def leaves(obj: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(path, value) of every member that is not a non-empty object."""
    if not isinstance(obj, dict) or not obj:
        return [(path, obj)]
    return [leaf for key, value in obj.items() for leaf in leaves(value, (*path, key))]


def under(path: tuple[str, ...], prefixes: list[tuple[str, ...]]) -> bool:
    return any(path[: len(prefix)] == prefix for prefix in prefixes)


def defaulted(obj: dict[str, Any]) -> Any:
    return with_server_defaults(obj["apiVersion"].rpartition("/")[0], obj["kind"], obj)


def only(text: str) -> Manifest:
    (manifest,) = parse(SOURCE, text)
    assert isinstance(manifest, Manifest), manifest
    return manifest


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), manifests(), st.booleans())
def test_what_is_written_defaults_to_what_the_webhook_stores(
    data: st.DataObject, obj: dict[str, Any], update: bool
) -> None:
    text = data.draw(written_as(obj))
    manifest = only(text)
    old = previous_versions([manifest], "default") if update else {}
    result = check(manifest, old, CONFIG, "default")
    out = io.StringIO()
    assert write_mutated([result], {SOURCE: text}, "-", out) == []
    written = out.getvalue()
    if not result.decision.patch:
        assert written == text
    written_object = yaml.load(written, Loader=yaml.CSafeLoader)
    assert defaulted(written_object) == result.mutated
    # Nothing but the input and the patch: no member that only defaulting added, none of the input lost.
    patched = [tuple(op["path"].split("/")[1:]) for op in result.decision.patch]
    outside = {path: value for path, value in leaves(written_object) if not under(path, patched)}
    assert outside == {path: value for path, value in leaves(manifest.object) if not under(path, patched)}
    assert check(only(written), old, CONFIG, "default").decision.patch == ()


def test_a_value_only_defaulting_set_is_added_not_replaced() -> None:
    service = {"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80}]}}
    patch: list[dict[str, Any]] = [
        {"op": "replace", "path": "/spec/sessionAffinity", "value": "ClientIP"},
        {"op": "add", "path": "/spec/sessionAffinityConfig", "value": {"clientIP": {"timeoutSeconds": 1800}}},
    ]
    assert rebase(service, patch) == (
        {"op": "add", "path": "/spec/sessionAffinity", "value": "ClientIP"},
        {"op": "add", "path": "/spec/sessionAffinityConfig", "value": {"clientIP": {"timeoutSeconds": 1800}}},
    )


def test_a_member_under_a_parent_only_defaulting_made_brings_the_parent_with_only_that_member() -> None:
    # The defaulted object had sessionAffinityConfig.clientIP.timeoutSeconds 10800; the manifest has none.
    service = {"apiVersion": "v1", "kind": "Service", "spec": {"sessionAffinity": "ClientIP"}}
    patch = [
        {"op": "replace", "path": "/spec/sessionAffinityConfig/clientIP/timeoutSeconds", "value": 600},
        {"op": "add", "path": "/spec/sessionAffinityConfig/clientIP/x~1y", "value": 1},
    ]
    assert rebase(service, patch) == (
        {"op": "add", "path": "/spec/sessionAffinityConfig", "value": {"clientIP": {"timeoutSeconds": 600}}},
        {"op": "add", "path": "/spec/sessionAffinityConfig/clientIP/x~1y", "value": 1},
    )


@pytest.mark.parametrize(
    "op",
    [
        {"op": "remove", "path": "/spec/replicas"},
        {"op": "replace", "path": "/spec/ports/0/port", "value": 81},
        {"op": "add", "path": "/spec/ports/-", "value": {"port": 81}},
        {"op": "replace", "path": "", "value": {}},
    ],
)
def test_operations_that_cannot_be_written_into_the_manifest_are_refused(op: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="cannot be written into the manifest"):
        rebase({"spec": {"replicas": 2, "ports": [{"port": 80}]}}, [op])


def test_a_value_yaml_1_1_would_misread_is_quoted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text('policies:\n  statefulset-dns: {serviceNamePattern: "{name}"}\n')
    sts = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: "on"
  labels: {toolhive: "true", toolhive-name: "on", toolhive-transport: sse}
spec:
  selector: {matchLabels: {app: "on"}}
  template: {spec: {containers: [{name: mcp, image: x}]}}
"""
    (tmp_path / "sts.yaml").write_text(sts)
    run = run_check("--config", "config.yaml", "-f", "sts.yaml", "--write-mutated", "-")
    assert run.code == 0, run.stderr
    # ruamel (YAML 1.2) would write a plain `on`: a boolean to kubectl and to our own loader.
    assert run.stdout == sts + '  serviceName: "on"\n'


def test_a_document_that_cannot_keep_its_formatting_is_left_unchanged_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # One spec shared through an anchor by an MCP Service and another one: written into the anchored
    # node, the patch would change the other Service too.
    shared = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: notes, labels: {mcp-admission.io/workload: "true"}}
  spec: &spec
    selector: {app: notes}
- apiVersion: v1
  kind: Service
  metadata: {name: web}
  spec: *spec
"""
    (tmp_path / "svc.yaml").write_text(shared + "---\n" + COMMENTED_SERVICE)
    run = run_check("-f", "svc.yaml", "--write-mutated", "-")
    assert run.code == 2
    head, tail = COMMENTED_SERVICE.split("  # end of spec\n")
    assert run.stdout == shared + "---\n" + head + SESSION_AFFINITY + "  # end of spec\n" + tail
    assert run.stderr.splitlines()[0] == (
        "svc.yaml:4: --write-mutated: writing the patch into this document would change more than the patch; "
        "left unchanged"
    )
