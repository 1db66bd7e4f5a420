"""deploy/ as rendered by `kubectl kustomize`, and the image it names: no cluster needed.

These check that the pieces agree with each other and with the code (policies, configuration
models, pinned dependencies), which no single manifest can show; the cluster tests apply them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from mcp_admission.cli import build_parser
from mcp_admission.cli.config import Config, load_config
from mcp_admission.policies import ALL_POLICIES, Phase
from mcp_admission.policies.engine.workloads import TOOLHIVE_GROUP
from mcp_admission.records import adapter

from .harness import DEPLOY, LEGACY, MODERN, OVERLAYS, ROOT, Obj, config_text, find, render

WEBHOOK_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
CORE_RESOURCES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "Service": ("", "services", ("v1",)),
    "StatefulSet": ("apps", "statefulsets", ("v1",)),
    "Deployment": ("apps", "deployments", ("v1",)),
}
OPT_OUT_LABEL = "mcp-admission.io/ignore"


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Obj]]:
    return {overlay: render(overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="module")
def base(rendered: dict[str, list[Obj]]) -> list[Obj]:
    return rendered["base"]


@pytest.fixture(scope="module")
def config(base: list[Obj], tmp_path_factory: pytest.TempPathFactory) -> Config:
    path = tmp_path_factory.mktemp("config") / "config.yaml"
    path.write_text(config_text(base))
    return load_config(path)


def deployments(objs: list[Obj]) -> dict[str, Obj]:
    return {d["metadata"]["name"]: d for d in find(objs, "Deployment")}


@pytest.fixture(scope="module")
def default(rendered: dict[str, list[Obj]]) -> list[Obj]:
    return rendered["overlays/default"]


def _without_webhook_configurations(objs: list[Obj]) -> list[Obj]:
    return [o for o in objs if o["kind"] not in WEBHOOK_KINDS]


def test_the_default_and_legacy_overlays_are_the_base_and_their_webhook_configurations(
    rendered: dict[str, list[Obj]],
) -> None:
    base = rendered["base"]
    assert find(base, WEBHOOK_KINDS[0]) == find(base, WEBHOOK_KINDS[1]) == []
    assert _without_webhook_configurations(rendered["overlays/default"]) == base
    # legacy: the same, plus the opt-out label on kube-system and on the product's namespace (for 1.20).
    legacy: list[Obj] = json.loads(json.dumps(_without_webhook_configurations(rendered["overlays/legacy"])))
    (kube_system,) = find(legacy, "Namespace", "kube-system")
    assert kube_system["metadata"]["labels"] == {OPT_OUT_LABEL: "true"}
    (own,) = find(legacy, "Namespace", "mcp-admission")
    assert own["metadata"]["labels"].pop(OPT_OUT_LABEL) == "true"
    assert [o for o in legacy if o is not kube_system] == base
    for overlay in OVERLAYS[1:]:
        assert (
            len(find(rendered[overlay], WEBHOOK_KINDS[0]))
            == len(find(rendered[overlay], WEBHOOK_KINDS[1]))
            == 1
        )


def test_the_overlays_install_the_shipped_renderings(rendered: dict[str, list[Obj]]) -> None:
    """tests/deploy holds the components' webhooks.yaml to `mcp-admission webhooks`; the overlays install
    exactly those (but for cert-manager's annotation and the local overlay's loopback URLs)."""
    shipped = {
        component: list(yaml.safe_load_all((DEPLOY / "components" / component / "webhooks.yaml").read_text()))
        for component in ("webhooks", "legacy")
    }
    for overlay, component in (*((o, "webhooks") for o in MODERN), *((o, "legacy") for o in LEGACY)):
        installed = [_comparable(c) for c in _webhook_configurations(rendered[overlay])]
        assert installed == [_comparable(c) for c in shipped[component]], overlay


def _webhook_configurations(objs: list[Obj]) -> list[Obj]:
    return [o for o in objs if o["kind"] in WEBHOOK_KINDS]


def _comparable(configuration: Obj) -> Obj:
    copy: Obj = json.loads(json.dumps(configuration))
    copy["metadata"].pop("annotations", None)
    for hook in copy["webhooks"]:
        hook.pop("clientConfig")
    return copy


def test_legacy_with_cert_manager_as_deploy_readme_says(tmp_path: Path) -> None:
    """deploy/README.md: an overlay of your own, components legacy then cert-manager."""

    def there(path: Path) -> str:
        return os.path.relpath(path, tmp_path)  # kustomize takes no absolute paths

    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [there(DEPLOY / "base")],
                "components": [there(DEPLOY / "components" / c) for c in ("legacy", "cert-manager")],
            }
        )
    )
    objs = render(str(tmp_path))
    assert {o["kind"] for o in objs} >= {"Certificate", "Issuer"}
    for configuration in _webhook_configurations(objs):
        assert "cert-manager.io/inject-ca-from" in configuration["metadata"]["annotations"]
        assert "matchConditions" not in configuration["webhooks"][0]
    assert find(objs, "Namespace", "kube-system")


def test_every_overlay_renders_the_same_config_file(rendered: dict[str, list[Obj]]) -> None:
    texts = {overlay: config_text(objs) for overlay, objs in rendered.items()}
    assert len(set(texts.values())) == 1, "overlays must not change the configuration file"


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _sections(model: type) -> list[tuple[str, Any]]:
    """(key in the file, type) of each field of a record (dataclass) or a pydantic model."""
    if dataclasses.is_dataclass(model):
        alias = model.__pydantic_config__["alias_generator"]  # type: ignore[attr-defined]
        hints = typing.get_type_hints(model)
        return [(alias(f.name), hints[f.name]) for f in dataclasses.fields(model)]
    assert issubclass(model, BaseModel)
    return [(info.alias or name, info.annotation) for name, info in model.model_fields.items()]


def _missing_keys(model: type, data: Any, where: str) -> list[str]:
    missing = []
    for key, annotation in _sections(model):
        if not isinstance(data, dict) or key not in data:
            missing.append(f"{where}{key}")
        elif isinstance(annotation, type) and (
            dataclasses.is_dataclass(annotation) or issubclass(annotation, BaseModel)
        ):
            missing += _missing_keys(annotation, data[key], f"{where}{key}.")
    return missing


def _dump(config: Config) -> dict[str, Any]:
    return adapter(Config).dump_python(config)  # type: ignore[no-any-return]


def test_the_shipped_configuration_loads_and_shows_every_setting(base: list[Obj], config: Config) -> None:
    # load_config (the fixture) validated it: unknown keys and bad values are errors.
    data = yaml.safe_load(config_text(base))
    assert _missing_keys(Config, data, "") == [], "add the new settings to deploy/base/config.yaml"
    # It says it shows the defaults, except where a comment says why not: keep that true.
    shipped, defaults = _flat(_dump(config)), _flat(_dump(Config()))
    differ = {key for key in shipped if shipped[key] != defaults[key]}
    assert differ == {"excluded_namespaces", "certs.webhook_selector"}, (
        "deploy/base/config.yaml shows a value other than the built-in default (update the file)"
    )
    assert config.excluded_namespaces == {"kube-system", "mcp-admission"}


def _needed_rules(
    phase: Phase, crd_names: dict[str, tuple[str, tuple[str, ...]]]
) -> set[tuple[str, str, str]]:
    rules = set()
    for policy in ALL_POLICIES:
        if policy.phase is not phase:
            continue
        for kind in policy.kinds:
            if kind in CORE_RESOURCES:
                group, resource, versions = CORE_RESOURCES[kind]
            else:
                group, (resource, versions) = TOOLHIVE_GROUP, crd_names[kind]
            rules |= {(group, version, resource) for version in versions}
    return rules


@pytest.mark.parametrize("overlay", ["overlays/default", "overlays/legacy"])
def test_webhook_rules_are_exactly_what_the_policies_read(
    rendered: dict[str, list[Obj]], overlay: str, toolhive: Path
) -> None:
    crd_names = {}
    for path in (toolhive / "crds-k8s-1.20").glob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        served = tuple(v["name"] for v in crd["spec"]["versions"] if v["served"])
        crd_names[crd["spec"]["names"]["kind"]] = (crd["spec"]["names"]["plural"], served)
    operations = {op for policy in ALL_POLICIES for op in policy.operations}
    for kind, phase in zip(WEBHOOK_KINDS, (Phase.MUTATE, Phase.VALIDATE), strict=True):
        (configuration,) = find(rendered[overlay], kind)
        (hook,) = configuration["webhooks"]
        rules = {
            (group, version, resource)
            for rule in hook["rules"]
            for group in rule["apiGroups"]
            for version in rule["apiVersions"]
            for resource in rule["resources"]
        }
        assert rules == _needed_rules(phase, crd_names), kind
        assert all(set(rule["operations"]) == operations for rule in hook["rules"])
        assert all(rule["scope"] == "Namespaced" for rule in hook["rules"])


@pytest.mark.parametrize("overlay", MODERN + LEGACY)
def test_webhook_configurations_are_safe_for_a_cluster(
    rendered: dict[str, list[Obj]], overlay: str, config: Config
) -> None:
    objs = rendered[overlay]
    legacy = overlay in LEGACY
    namespaces = {ns["metadata"]["name"]: ns["metadata"].get("labels", {}) for ns in find(objs, "Namespace")}
    if not legacy:  # nothing written to kube-system, nor to any namespace but the product's own
        assert list(namespaces) == ["mcp-admission"] and OPT_OUT_LABEL not in namespaces["mcp-admission"]
        assert all(o["metadata"].get("namespace", "mcp-admission") == "mcp-admission" for o in objs)
    for kind in WEBHOOK_KINDS:
        (configuration,) = find(objs, kind)
        (hook,) = configuration["webhooks"]
        assert hook["admissionReviewVersions"] == ["v1"]
        assert hook["sideEffects"] == "None"
        assert hook["timeoutSeconds"] <= 5
        assert hook["matchPolicy"] == "Equivalent"
        assert hook["failurePolicy"] == "Ignore"
        assert "objectSelector" not in hook
        assert ("matchConditions" in hook) is not legacy
        expressions = hook["namespaceSelector"]["matchExpressions"]
        by_name = {
            "key": "kubernetes.io/metadata.name",
            "operator": "NotIn",
            "values": sorted(config.excluded_namespaces),
        }
        assert by_name["values"] == ["kube-system", "mcp-admission"]
        opt_out = {"key": OPT_OUT_LABEL, "operator": "NotIn", "values": ["true"]}
        assert expressions == ([opt_out, by_name] if legacy else [by_name])
        # Where the apiserver sets no metadata.name label (1.20), the opt-out label excludes them.
        for name in by_name["values"] if legacy else ():
            assert namespaces[name].get(OPT_OUT_LABEL) == "true", name
    (mutating,) = find(objs, "MutatingWebhookConfiguration")
    assert mutating["webhooks"][0]["reinvocationPolicy"] == "IfNeeded"


def test_the_webhook_pods_serve_what_the_configurations_call(
    base: list[Obj], default: list[Obj], config: Config
) -> None:
    webhook = deployments(base)["mcp-admission-webhook"]
    (service,) = find(base, "Service", "mcp-admission")
    pod = webhook["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"https": config.webhook.port, "metrics": config.webhook.metrics_port}
    assert {"port": 443, "targetPort": "https", "name": "https"} in service["spec"]["ports"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    for kind in WEBHOOK_KINDS:
        (configuration,) = find(default, kind)
        target = configuration["webhooks"][0]["clientConfig"]["service"]
        assert (target["name"], target["namespace"], target["port"]) == (
            "mcp-admission",
            "mcp-admission",
            443,
        )
        assert (service["metadata"]["name"], service["metadata"]["namespace"]) == (
            config.certs.service,
            config.certs.namespace,
        )
    # Probes on the plain-HTTP port (no handshake to queue behind a flood of them on the admission port).
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        assert container[probe]["httpGet"] == {"path": path, "port": "metrics"}
    assert config.webhook.metrics_port, "the probes need the metrics port"
    # The files the configuration names are where the volumes are mounted.
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert (
        Path(config.webhook.cert_file).parent == Path(config.webhook.key_file).parent == Path(mounts["tls"])
    )
    assert volumes["tls"]["secret"]["secretName"] == config.certs.secret_name
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert Path(env["MCP_ADMISSION_CONFIG"]).parent == Path(mounts["config"])
    assert volumes["config"]["configMap"]["name"].startswith("mcp-admission-config-")
    assert webhook["spec"]["replicas"] >= 2
    (pdb,) = find(base, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == webhook["spec"]["selector"]["matchLabels"]
    assert pdb["spec"]["minAvailable"] == 1
    anti = pod["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert (
        anti[0]["podAffinityTerm"]["labelSelector"]["matchLabels"]
        == webhook["spec"]["selector"]["matchLabels"]
    )


@pytest.mark.parametrize("name", ["mcp-admission-webhook", "mcp-admission-reconciler"])
def test_pods_are_locked_down(base: list[Obj], name: str) -> None:
    spec = deployments(base)[name]["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] >= 1000
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in spec["containers"] + spec.get("initContainers", []):
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
        assert {"cpu", "memory"} <= container["resources"]["limits"].keys()


@pytest.mark.parametrize("overlay", ["base", "overlays/cert-manager"])
def test_every_container_runs_a_command_the_cli_has(rendered: dict[str, list[Obj]], overlay: str) -> None:
    parser = build_parser()
    for deployment in find(rendered[overlay], "Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        for container in spec["containers"] + spec.get("initContainers", []):
            args = parser.parse_args(container["args"])  # exits (fails the test) on an unknown option
            assert callable(args.func)


def test_rbac_names_the_objects_the_parts_use(base: list[Obj], default: list[Obj], config: Config) -> None:
    (lease_role,) = find(base, "Role", "mcp-admission-reconciler-leader-election")
    named = [r for r in lease_role["rules"] if r.get("resourceNames")]
    assert named == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": [config.reconciler.lease_name],
            "verbs": ["get", "update", "patch"],
        }
    ]
    assert lease_role["metadata"]["namespace"] == config.reconciler.lease_namespace
    (secrets_role,) = find(base, "Role", "mcp-admission-webhook-certs")
    named = [r for r in secrets_role["rules"] if r.get("resourceNames")]
    assert [set(r["resourceNames"]) for r in named] == [
        {config.certs.secret_name, config.certs.ca_secret_name}
    ]
    assert secrets_role["metadata"]["namespace"] == config.certs.namespace
    (configs_role,) = find(base, "ClusterRole", "mcp-admission-webhook-certs")
    (rule,) = configs_role["rules"]
    names = {config.certs.mutating_webhook_configuration, config.certs.validating_webhook_configuration}
    assert (
        set(rule["resourceNames"])
        == names
        == {c["metadata"]["name"] for c in find(default, WEBHOOK_KINDS[0])}
    )
    # Finding configurations by label would need `list` on all of them, which the RBAC does not grant.
    assert config.certs.webhook_selector == "" and "list" not in rule["verbs"]
    reconciler = deployments(base)["mcp-admission-reconciler"]["spec"]["template"]["spec"]
    webhook = deployments(base)["mcp-admission-webhook"]["spec"]["template"]["spec"]
    (container,) = reconciler["containers"]
    assert container["ports"] == [{"name": "metrics", "containerPort": config.reconciler.metrics_port}]
    assert reconciler["serviceAccountName"] == "mcp-admission-reconciler"
    assert webhook["serviceAccountName"] == "mcp-admission-webhook"
    for binding in find(base, "RoleBinding") + find(base, "ClusterRoleBinding"):
        part = binding["metadata"]["name"].split("-")[2]  # mcp-admission-<part>...
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": f"mcp-admission-{part}", "namespace": "mcp-admission"}
        ]


def test_cert_manager_overlay_hands_certificates_over(rendered: dict[str, list[Obj]], config: Config) -> None:
    objs = rendered["overlays/cert-manager"]
    (certificate,) = find(objs, "Certificate")
    (issuer,) = find(objs, "Issuer")
    assert certificate["spec"]["issuerRef"] == {"kind": "Issuer", "name": issuer["metadata"]["name"]}
    assert certificate["spec"]["secretName"] == config.certs.secret_name
    assert f"{config.certs.service}.{config.certs.namespace}.svc" in certificate["spec"]["dnsNames"]
    source = f"{certificate['metadata']['namespace']}/{certificate['metadata']['name']}"
    for kind in WEBHOOK_KINDS:
        (configuration,) = find(objs, kind)
        assert configuration["metadata"]["annotations"] == {"cert-manager.io/inject-ca-from": source}
    base_names = {(o["kind"], o["metadata"]["name"]) for o in rendered["overlays/default"]}
    names = {(o["kind"], o["metadata"]["name"]) for o in objs}
    assert names - base_names == {
        ("Certificate", certificate["metadata"]["name"]),
        ("Issuer", issuer["metadata"]["name"]),
    }
    assert all("certs" not in name for kind, name in names if kind.endswith(("Role", "RoleBinding"))), names
    (webhook,) = find(objs, "Deployment", "mcp-admission-webhook")
    assert "initContainers" not in webhook["spec"]["template"]["spec"]
    assert webhook["spec"]["template"]["spec"]["containers"][0]["args"] == ["serve"]
    (own,) = find(rendered["base"], "Deployment", "mcp-admission-webhook")
    assert own["spec"]["template"]["spec"]["containers"][0]["args"] == ["serve", "--manage-certs"]
    assert own["spec"]["template"]["spec"]["initContainers"][0]["args"] == ["certs", "ensure"]
    assert webhook["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_local_overlay_points_the_webhooks_at_loopback(rendered: dict[str, list[Obj]]) -> None:
    objs = rendered["overlays/local"]
    assert find(objs, "Deployment") == [] and find(objs, "Service") == []
    # Legacy-based: the test control plane is 1.20 (no matchConditions, no metadata.name label).
    assert find(objs, "Namespace", "kube-system") == find(
        rendered["overlays/legacy"], "Namespace", "kube-system"
    )
    for kind, path in zip(WEBHOOK_KINDS, ("/mutate", "/validate"), strict=True):
        (configuration,) = find(objs, kind)
        assert configuration["webhooks"][0]["clientConfig"] == {"url": f"https://127.0.0.1:8443{path}"}


def test_the_manifests_name_the_image_the_dockerfile_builds(rendered: dict[str, list[Obj]]) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"docker build -t mcp-admission:{version} ." in dockerfile
    assert 'ENTRYPOINT ["mcp-admission"]' in dockerfile
    users = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert users and re.fullmatch(r"[1-9]\d{3,}:[1-9]\d{3,}", users[-1]), "a numeric non-root user"
    for overlay in ("base", "overlays/cert-manager", "overlays/legacy"):
        for deployment in find(rendered[overlay], "Deployment"):
            for container in deployment["spec"]["template"]["spec"]["containers"]:
                assert container["image"] == f"mcp-admission:{version}"
