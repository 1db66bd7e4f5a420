"""The Helm chart (deploy/charts/mcp-admission), rendered by the real helm v4.2.3, offline:

- it is the derivation of deploy/ and the code (tools/chart.py --check), and `helm lint --strict` passes;
- with default values it installs what overlays/default (1.36) and overlays/legacy (1.20) install, and
  with certManager.enabled what overlays/cert-manager does;
- for any configuration its webhook configurations are `mcp-admission webhooks` (and `--legacy`) for the
  configuration the pods run with; on 1.30+ it refuses selectors, naming the command that renders them;
- every ci/ values file renders for 1.20 and 1.36 into objects Kubernetes' schema accepts;
- a misspelt or mistyped value fails with its name; every value is in README.md's table.

The install, upgrade and uninstall on a real apiserver are test_chart_install.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_admission.cli.config import Config
from mcp_admission.deploy import Names, webhook_configurations
from mcp_admission.policies import PolicyConfig
from mcp_admission.records import adapter, validate
from tests.support import share_of_profile

from .helm import (
    CHART,
    LEGACY,
    MODERN,
    ROOT,
    Obj,
    binary,
    by_kind,
    config_of,
    helm,
    template,
    template_args,
    without_chart_labels,
)
from .test_match_conditions import configs
from .test_rendering import check_accepted

CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
WEBHOOK_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
CRD_KINDS = frozenset({"Certificate", "Issuer", "ServiceMonitor"})  # not Kubernetes' own


def test_the_chart_is_the_derivation_of_deploy_and_the_code() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "chart.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"


@pytest.mark.parametrize("values", [None, *CI_VALUES], ids=lambda v: v.name if v else "defaults")
def test_helm_lint_strict(values: Path | None) -> None:
    helm("lint", "--strict", str(CHART), *(["-f", str(values)] if values else []))


# ------------------------------------------------------------------------------ the same as deploy/


def kustomize(overlay: str) -> list[Obj]:
    proc = subprocess.run(
        [binary("kubectl"), "kustomize", str(ROOT / "deploy" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def _with_tcp(obj: Any) -> None:
    """The apiserver's default protocol, which the chart writes (Helm's server-side apply on 1.20)."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "ports" and isinstance(value, list):
                for port in value:
                    port.setdefault("protocol", "TCP")
            _with_tcp(value)
    elif isinstance(obj, list):
        for item in obj:
            _with_tcp(item)


def _comparable(objs: list[Obj]) -> dict[tuple[str, str], Obj]:
    """What both install, made comparable: the Namespace (Helm's is `--create-namespace`'s) left out,
    the ConfigMap by name without kustomize's hash and its file parsed, the chart's own labels and
    config checksum (the chart's way to roll pods; kustomize's is the hash) removed, the PDB's group
    version left out (the chart picks it by Kubernetes version), and the apiserver's defaults that the
    chart writes out (ports' protocol, imagePullPolicy) added to deploy/'s."""
    out = []
    for obj in objs:
        if obj["kind"] == "Namespace":
            continue
        obj = without_chart_labels(obj)
        _with_tcp(obj)
        if obj["kind"] == "ConfigMap":
            obj["metadata"]["name"] = "mcp-admission-config"
            obj["data"]["config.yaml"] = yaml.safe_load(obj["data"]["config.yaml"])
        if obj["kind"] == "PodDisruptionBudget":
            obj["apiVersion"] = "policy"
        if obj["kind"] == "Deployment":
            template = obj["spec"]["template"]
            template["metadata"].get("annotations", {}).pop("checksum/config", None)
            if not template["metadata"].get("annotations", True):
                del template["metadata"]["annotations"]
            for container in template["spec"]["containers"] + template["spec"].get("initContainers", []):
                container.setdefault("imagePullPolicy", "IfNotPresent")  # the apiserver's, for a tag
            for volume in template["spec"]["volumes"]:
                if "configMap" in volume:
                    volume["configMap"]["name"] = "mcp-admission-config"
        out.append(obj)
    return by_kind(out)


@pytest.mark.parametrize(
    ("overlay", "kube_version", "values"),
    [
        ("default", MODERN, None),
        ("legacy", LEGACY, None),
        ("cert-manager", MODERN, {"certManager": {"enabled": True}}),
    ],
)
def test_default_values_install_what_the_overlay_installs(
    overlay: str, kube_version: str, values: Obj | None
) -> None:
    chart = _comparable(template(values, kube_version))
    overlay_objs = _comparable(kustomize(overlay))
    assert chart.keys() == overlay_objs.keys()
    for key, obj in chart.items():
        assert obj == overlay_objs[key], key


def test_the_conditions_follow_the_kubernetes_version() -> None:
    """matchConditions are GA from 1.30: before it, the legacy configurations."""
    for version, conditions in (("1.29.9", False), ("1.30.0", True)):
        for obj in rendered_webhooks(template(None, version)):
            assert ("matchConditions" in obj["webhooks"][0]) is conditions, version


def test_the_pdb_follows_the_kubernetes_version() -> None:
    for version, api in ((LEGACY, "policy/v1beta1"), ("1.21.0", "policy/v1"), (MODERN, "policy/v1")):
        (pdb,) = [o for o in template(None, version) if o["kind"] == "PodDisruptionBudget"]
        assert pdb["apiVersion"] == api


# --------------------------------------------------------------- webhook configurations = the command


def _values(config: PolicyConfig) -> Obj:
    dumped = adapter(PolicyConfig).dump_python(config, mode="json", by_alias=True)
    return {"config": {"workloads": dumped["workloads"], "excludedNamespaces": dumped["excludedNamespaces"]}}


def _names(config: Config) -> Names:
    c = config.certs
    return Names(c.service, c.namespace, c.mutating_webhook_configuration, c.validating_webhook_configuration)


def rendered_webhooks(objs: list[Obj]) -> list[Obj]:
    return [without_chart_labels(o) for o in objs if o["kind"] in WEBHOOK_KINDS]


@settings(max_examples=share_of_profile(0.25), deadline=None)
@given(
    configs, st.sampled_from(["mcp-admission", "tenant-a", "x"]), st.sampled_from(["mcp-admission", "team"])
)
def test_the_webhook_configurations_are_the_commands_for_any_configuration(
    config: PolicyConfig, namespace: str, release: str
) -> None:
    values = _values(config)
    for legacy, version in ((False, MODERN), (True, LEGACY)):
        if not legacy and config.workloads.selectors:
            proc = helm(*template_args(values, version, namespace, release), check=False)
            assert proc.returncode != 0
            assert (
                "mcp-admission webhooks --config" in proc.stderr
                and "webhookConfigurations.create=false" in (proc.stderr)
            )
            continue
        objs = template(values, version, namespace, release)
        running = validate(Config, config_of(objs))  # what the pods run with
        assert running.workloads == config.workloads
        assert running.excluded_namespaces == config.excluded_namespaces | {namespace}
        assert running.certs.namespace == running.reconciler.lease_namespace == namespace
        assert rendered_webhooks(objs) == webhook_configurations(running, _names(running), legacy=legacy)


@pytest.mark.parametrize("label", ["toolhive", "app.kubernetes.io/name", "example.com/mcp"])
def test_an_opt_in_label_like_toolhives_own_renders_as_the_command_does(label: str) -> None:
    """The engine keeps one copy of equal alternatives: `toolhive` as the opt-in label is ToolHive's."""
    objs = template({"config": {"workloads": {"optInLabel": label}}})
    running = validate(Config, config_of(objs))
    assert rendered_webhooks(objs) == webhook_configurations(running, _names(running))


def test_a_configuration_that_sets_the_names_keeps_them() -> None:
    values = {"config": {"certs": {"service": "admission", "namespace": "tenant"}, "excludedNamespaces": []}}
    objs = template(values, MODERN, "tenant")
    running = validate(Config, config_of(objs))
    assert (running.certs.service, running.certs.namespace) == ("admission", "tenant")
    assert running.excluded_namespaces == {"tenant"}  # the release's own is always left out
    assert rendered_webhooks(objs) == webhook_configurations(running, _names(running))
    assert ("Service", "admission") in by_kind(objs)


def test_certificates_for_another_namespace_are_refused() -> None:
    """The chart installs the webhook's Service (and its Secrets) in the release's namespace only."""
    proc = helm(
        *template_args({"config": {"certs": {"namespace": "elsewhere"}}}, namespace="tenant"), check=False
    )
    assert proc.returncode != 0 and "config.certs.namespace" in proc.stderr, proc.stderr


def test_a_webhook_without_its_probe_port_is_refused() -> None:
    """The pods' probes are on the metrics port: a webhook without one would never become ready."""
    proc = helm(*template_args({"config": {"webhook": {"metricsPort": 0}}}), check=False)
    assert proc.returncode != 0 and "config.webhook.metricsPort" in proc.stderr, proc.stderr


def test_an_opt_in_label_that_is_no_label_key_is_refused() -> None:
    values = {"config": {"workloads": {"optInLabel": 'x" || true || "'}}}
    proc = helm(*template_args(values), check=False)
    assert proc.returncode != 0 and "config.workloads.optInLabel" in proc.stderr, proc.stderr


# ------------------------------------------------------------------- every ci/ file, both versions


def _accepted_by_kubernetes(obj: Obj) -> None:
    """Kubernetes' own schema, as the client's models hold it: an unknown field is dropped by them."""
    api = kubernetes.client.ApiClient()
    version = obj["apiVersion"].rpartition("/")[2].capitalize()
    model = api.deserialize(json.dumps(obj), f"{version}{obj['kind']}", "application/json")
    assert api.sanitize_for_serialization(model) == obj, (obj["kind"], obj["metadata"]["name"])  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("kube_version", [LEGACY, MODERN])
@pytest.mark.parametrize("values", CI_VALUES, ids=lambda v: v.name)
def test_every_ci_values_file_renders_objects_kubernetes_accepts(values: Path, kube_version: str) -> None:
    objs = template(None, kube_version, namespace="tenant", files=[values])
    for obj in objs:
        if obj["kind"] in CRD_KINDS:
            continue
        if obj["kind"] in WEBHOOK_KINDS:
            check_accepted(without_chart_labels(json.loads(json.dumps(obj))))
        if obj["apiVersion"] != "policy/v1beta1":  # the client's models know only policy/v1
            _accepted_by_kubernetes(obj)


def test_the_values_reach_the_pods() -> None:
    objs = by_kind(template(None, MODERN, "tenant", files=[CHART / "ci" / "scheduling-values.yaml"]))
    webhook = objs["Deployment", "mcp-admission-webhook"]
    pod = webhook["spec"]["template"]
    assert webhook["spec"]["replicas"] == 3
    assert pod["metadata"]["annotations"]["example.com/team"] == "platform"
    assert pod["metadata"]["labels"]["example.com/tier"] == "admission"
    assert pod["spec"]["priorityClassName"] == "system-cluster-critical"
    assert pod["spec"]["imagePullSecrets"] == [{"name": "registry-pull"}]
    assert "affinity" not in pod["spec"]
    image = "registry.example.com/platform/mcp-admission@sha256:" + "0123456789abcdef" * 4
    assert {c["image"] for c in pod["spec"]["containers"] + pod["spec"]["initContainers"]} == {image}
    assert objs["PodDisruptionBudget", "mcp-admission-webhook"]["spec"]["minAvailable"] == 2
    for kind in WEBHOOK_KINDS:
        assert objs[kind, "mcp-admission"]["webhooks"][0]["failurePolicy"] == "Fail"


def _within(given: Any, running: Any, path: str = "config") -> None:
    """Every key `given` sets has that value in `running`."""
    if isinstance(given, dict):
        for key, value in given.items():
            assert key in running, f"{path}.{key} is not in the pods' configuration"
            _within(value, running[key], f"{path}.{key}")
    else:
        assert given == running, path


def test_every_configuration_key_set_is_what_the_pods_run_with() -> None:
    values = CHART / "ci" / "config-values.yaml"
    objs = template(None, MODERN, "tenant", files=[values])
    running = config_of(objs)
    given = yaml.safe_load(values.read_text())["config"]
    given["excludedNamespaces"] = [*given["excludedNamespaces"], "tenant"]  # the release's, always
    _within(given, running)
    validate(Config, running)
    pods = by_kind(objs)["Deployment", "admission-webhook"]["spec"]["template"]["spec"]
    (webhook,) = pods["containers"]
    assert {p["name"]: p["containerPort"] for p in webhook["ports"]} == {"https": 9443, "metrics": 9090}
    # The kubelet's SIGKILL waits for the drain and the grace period, with deploy/base's 5 s to spare.
    assert pods["terminationGracePeriodSeconds"] == 15 + 25 + 5


def test_a_changed_configuration_changes_the_pods_checksum() -> None:
    def checksums(values: Obj | None) -> set[str]:
        return {
            o["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            for o in template(values)
            if o["kind"] == "Deployment"
        }

    before, after = (
        checksums(None),
        checksums({"config": {"policies": {"stdio-replicas": {"mode": "enforce"}}}}),
    )
    assert len(before) == len(after) == 1 and before != after


# -------------------------------------------------------------------------------- values: schema, docs


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("webhook.replica=3", "replica"),
        ("webhook.replicas=two", "replicas"),
        ("config.policies.session-afinity.mode=warn", "session-afinity"),
        ("config.policies.session-affinity.mode=warnn", "mode"),
        ("imag.repository=x", "imag"),
        ("global.anything=1", None),  # umbrella charts' global values are allowed
    ],
)
def test_a_misspelt_or_mistyped_value_fails_naming_it(setting: str, named: str | None) -> None:
    proc = helm("template", "x", str(CHART), "--set", setting, check=False)
    if named is None:
        assert proc.returncode == 0, proc.stderr
    else:
        assert proc.returncode != 0 and named in proc.stderr, proc.stderr


def _documented_paths(schema: Obj, prefix: str = "") -> list[str]:
    """Every value a user sets: leaves of the closed objects; `config` down to its sections (each key
    of those is documented in values.yaml, copied from deploy/base/config.yaml)."""
    paths = []
    for key, sub in schema["properties"].items():
        path = f"{prefix}{key}"
        if path == "config":
            paths += [f"config.{section}" for section in sub["properties"]]
        elif sub.get("additionalProperties") is False and "properties" in sub:
            paths += _documented_paths(sub, path + ".")
        else:
            paths.append(path)
    return paths


def test_every_value_is_in_the_readme_table() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    rows = set(re.findall(r"^\| `([^`]+)` \|", (CHART / "README.md").read_text(), flags=re.M))
    missing = [p for p in _documented_paths(schema) if p not in rows]
    assert not missing, f"values missing from {CHART.relative_to(ROOT)}/README.md's table: {missing}"
    assert rows <= set(_documented_paths(schema)), rows - set(_documented_paths(schema))
