"""Every field a policy reads or writes on ToolHive resources exists in the real CRDs, both versions,
and the CRD defaults we replay offline are the CRDs' own."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

from mcp_admission.check.defaults import _CRD_SPEC_DEFAULTS, with_server_defaults
from mcp_admission.policies import session_storage, stdio_replicas, termination_grace
from mcp_admission.policies.engine.workloads import MCP_RESOURCE_KINDS, TOOLHIVE_GROUP, TOOLHIVE_VERSIONS

CRD_FILES = {
    "MCPServer": "toolhive.stacklok.dev_mcpservers.yaml",
    "MCPRemoteProxy": "toolhive.stacklok.dev_mcpremoteproxies.yaml",
    "VirtualMCPServer": "toolhive.stacklok.dev_virtualmcpservers.yaml",
}
# Paths under .spec each policy reads (R) or writes (W), by kind.
FIELDS_USED = {
    kind: {
        ("replicas",),  # R: session-storage, affinity-with-redis; W (MCPServer): stdio-replicas
        ("sessionStorage", "provider"),  # R: session-storage, affinity-with-redis
        ("sessionAffinity",),  # R: affinity-with-redis
        *((f,) for f in session_storage.REPLICA_FIELDS if kind == "MCPServer"),
    }
    | (
        {(f,) for f in stdio_replicas.FIELDS["MCPServer"]} | {("transport",)}
        if kind == "MCPServer"
        else set()
    )
    for kind in CRD_FILES
}


@functools.cache  # each CRD is megabytes of YAML; the tests only read it
def _crd(path: Path) -> dict[str, Any]:
    crd: dict[str, Any] = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return crd


def spec_schemas(toolhive: Path, kind: str, crds: str = "crds") -> dict[str, dict[str, Any]]:
    crd = _crd(toolhive / crds / CRD_FILES[kind])
    assert crd["spec"]["group"] == TOOLHIVE_GROUP and crd["spec"]["names"]["kind"] == kind
    return {
        v["name"]: v["schema"]["openAPIV3Schema"]["properties"]["spec"]
        for v in crd["spec"]["versions"]
        if v["served"]
    }


def lookup(schema: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    for token in path:
        schema = schema["properties"][token]
    return schema


def test_the_kinds_we_recognise_are_the_crds_we_read() -> None:
    assert set(CRD_FILES) == MCP_RESOURCE_KINDS


@pytest.mark.parametrize("kind", sorted(CRD_FILES))
def test_fields_policies_use_exist_in_every_served_version(toolhive: Path, kind: str) -> None:
    schemas = spec_schemas(toolhive, kind)
    assert set(schemas) == TOOLHIVE_VERSIONS
    for version, spec in schemas.items():
        for path in FIELDS_USED[kind]:
            field = lookup(spec, path)
            assert field["type"] in ("integer", "string"), (version, path)
        provider = lookup(spec, ("sessionStorage", "provider"))
        assert "redis" in provider["enum"]
        replicas = lookup(spec, ("replicas",))
        assert "default" not in replicas, "replicas has no default: absent means an HPA owns it"


@pytest.mark.parametrize("crds", ["crds", "crds-k8s-1.20"])
@pytest.mark.parametrize("kind", sorted(CRD_FILES))
def test_the_pod_template_termination_grace_writes_is_raw_and_undefaulted(
    toolhive: Path, kind: str, crds: str
) -> None:
    """termination-grace writes spec.podTemplateSpec.spec.terminationGracePeriodSeconds: the field is a raw
    PodTemplateSpec (preserve-unknown-fields), so the apiserver keeps our integer as written and fills in
    no default (an absent value stays absent, and is left alone)."""
    path = termination_grace.POD_SPECS[kind]
    assert path[0] == "spec"
    schemas = spec_schemas(toolhive, kind, crds)
    assert set(schemas) == TOOLHIVE_VERSIONS
    for version, spec in schemas.items():
        template = lookup(spec, path[1:2])
        assert template["type"] == "object", version
        assert template["x-kubernetes-preserve-unknown-fields"] is True, version
        assert "properties" not in template and "default" not in template, version


@pytest.mark.parametrize("kind", sorted(CRD_FILES))
def test_offline_defaults_are_the_crd_defaults(toolhive: Path, kind: str) -> None:
    for version, spec in spec_schemas(toolhive, kind).items():
        for field, value in _CRD_SPEC_DEFAULTS[kind].items():
            assert spec["properties"][field]["default"] == value, (version, field)


def test_embedding_server_is_not_an_mcp_session_workload(toolhive: Path) -> None:
    crd = yaml.safe_load((toolhive / "crds/toolhive.stacklok.dev_embeddingservers.yaml").read_text())
    assert crd["spec"]["names"]["kind"] not in MCP_RESOURCE_KINDS


def test_defaults_fill_only_what_is_missing_and_never_touch_the_input() -> None:
    raw = {"apiVersion": "v1", "kind": "Service", "spec": {"sessionAffinity": "ClientIP"}}
    out = with_server_defaults("", "Service", raw)
    assert raw == {"apiVersion": "v1", "kind": "Service", "spec": {"sessionAffinity": "ClientIP"}}
    assert out["spec"] == {
        "sessionAffinity": "ClientIP",
        "type": "ClusterIP",
        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
    }
    kept = {
        "spec": {
            "type": "NodePort",
            "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
        }
    }
    assert with_server_defaults("", "Service", kept) is kept
    server = with_server_defaults(TOOLHIVE_GROUP, "MCPServer", {"spec": {"image": "x", "transport": "sse"}})
    assert server["spec"] == {
        "image": "x",
        "transport": "sse",
        "sessionAffinity": "ClientIP",
        "proxyPort": 8080,
    }
    assert with_server_defaults("apps", "StatefulSet", {"spec": {}})["spec"] == {"replicas": 1}


@pytest.mark.parametrize("kind", ["StatefulSet", "Deployment"])
def test_pod_templates_get_the_apiservers_termination_grace(kind: str) -> None:
    """core/v1 SetDefaults_PodSpec: an absent (or null) terminationGracePeriodSeconds becomes 30."""
    raw = {"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c"}]}}}}
    out = with_server_defaults("apps", kind, raw)
    assert out["spec"]["template"]["spec"] == {
        "containers": [{"name": "c"}],
        "terminationGracePeriodSeconds": 30,
    }
    assert raw == {"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c"}]}}}}
    null = {"spec": {"replicas": 1, "template": {"spec": {"terminationGracePeriodSeconds": None}}}}
    assert with_server_defaults("apps", kind, null)["spec"]["template"]["spec"] == {
        "terminationGracePeriodSeconds": 30
    }
    kept = {"spec": {"replicas": 1, "template": {"spec": {"terminationGracePeriodSeconds": 5}}}}
    assert with_server_defaults("apps", kind, kept) is kept
    # No pod spec to default (the apiserver refuses such an object anyway): nothing invented.
    assert (
        with_server_defaults("apps", kind, {"spec": {"replicas": 1, "template": "x"}})["spec"]["template"]
        == "x"
    )
    # ToolHive's podTemplateSpec is raw: no default there.
    server = {"spec": {"image": "x", "podTemplateSpec": {"spec": {}}}}
    assert with_server_defaults(TOOLHIVE_GROUP, "MCPServer", server)["spec"]["podTemplateSpec"] == {
        "spec": {}
    }
    assert with_server_defaults("", "ConfigMap", {"data": {}}) == {"data": {}}
