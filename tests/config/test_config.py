"""The one configuration file: good ones load, bad ones say which file, line or key is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_admission.cli.config import load_config
from mcp_admission.configfile import ConfigError
from mcp_admission.policies import Mode, session_affinity, statefulset_dns


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_defaults_without_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCP_ADMISSION_CONFIG", raising=False)
    config = load_config(None)
    assert set(config.modes.values()) == {Mode.WARN}
    assert config.settings(session_affinity.POLICY).timeout_seconds == 1800
    assert "kube-system" in config.excluded_namespaces
    assert config.toolhive.default_session_storage == "memory"  # what the policies assumed before it


def test_a_full_file_loads(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
policies:
  session-affinity: {mode: enforce, timeoutSeconds: 600}
  statefulset-dns: {serviceNamePattern: "{name}-pods"}
  stdio-replicas: {mode: "off"}
workloads:
  optInLabel: example.com/mcp
  selectors:
    - kinds: [StatefulSet]
      namespaces: [team-a]
      matchExpressions: [{key: tier, operator: Exists}]
      transport: stdio
excludedNamespaces: [kube-system, mcp-admission]
toolhive: {defaultSessionStorage: redis}
""",
        )
    )
    assert config.modes["session-affinity"] is Mode.ENFORCE
    assert config.modes["stdio-replicas"] is Mode.OFF
    assert config.settings(statefulset_dns.POLICY).service_name_pattern == "{name}-pods"
    assert config.workloads.selectors[0].transport == "stdio"
    assert config.excluded_namespaces == {"kube-system", "mcp-admission"}
    assert config.toolhive.default_session_storage == "redis"


def test_environment_variable_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "MCP_ADMISSION_CONFIG", str(write(tmp_path, "policies: {session-storage: {mode: enforce}}"))
    )
    assert load_config(None).modes["session-storage"] is Mode.ENFORCE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "policies: {session-afinity: {mode: warn}}",
            "policies.session-afinity: unknown setting",
        ),
        (
            "policies: {stdio-replicas: {mode: deny}}",
            "policies.stdio-replicas.mode: Input should be 'off', 'warn'",
        ),
        (
            "policies: {session-affinity: {timeoutSeconds: 90000}}",
            "timeoutSeconds: Input should be less than or",
        ),
        (
            "policies: {statefulset-dns: {serviceNamePattern: headless}}",
            "serviceNamePattern: Value error, must cont",
        ),
        ("policies: {statefulset-dns: {serviceNamePattern: 'MCP_{name}'}}", "valid Service name"),
        (
            "workloads: {optInLabel: 'bad key!'}",
            "workloads.optInLabel: Value error, 'bad key!': not a valid label",
        ),
        ("workloads: {selectors: [{kinds: [Service]}]}", "a selector needs matchLabels"),
        (
            "workloads: {selectors: [{matchExpressions: [{key: a, operator: In}]}]}",
            "operator In needs values",
        ),
        (
            "toolhive: {defaultSessionStorage: valkey}",
            "toolhive.defaultSessionStorage: Input should be 'memory' or 'redis'",
        ),
        ("toolhive: {defaultRedis: redis:6379}", "toolhive.defaultRedis: unknown setting"),
        ("- just\n- a list\n", "the configuration must be a mapping, not list"),
        ("policies:\n  x: [unclosed\n", ":3: not valid YAML"),
    ],
)
def test_bad_files_name_the_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value).startswith(str(path))
    assert expected in str(error.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load_config(tmp_path / "nope.yaml")
