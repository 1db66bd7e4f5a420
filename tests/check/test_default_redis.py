"""toolhive.defaultSessionStorage in `check`: ToolHive's examples at two replicas, in one stream as CI pipes
them (`kubectl kustomize . | mcp-admission check -f -`); and ToolHive's operator Deployment read as the
operator reads its own environment (mcp_admission.report.operator, shared with the audit)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from mcp_admission.policies import PolicyConfig
from mcp_admission.records import validate
from mcp_admission.report.operator import Operator, notices, toolhive_operator
from tests.policies.toolhive_objects import ADVICE, EXAMPLES, NOT_SHARED, example
from tests.support.toolhive_operator import operator_deployment, redis_env

from .runner import check

ADDR = "TOOLHIVE_DEFAULT_REDIS_ADDR"
Obj = dict[str, Any]


def findings(toolhive: Path, tmp_path: Path, default: str | None) -> dict[str, list[str]]:
    stream = yaml.safe_dump_all([example(toolhive, kind, replicas=2) for kind in EXAMPLES]).encode()
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump({} if default is None else {"toolhive": {"defaultSessionStorage": default}})
    )
    run = check("-f", "-", "-o", "json", "--config", config, stdin=stream)
    assert run.code == 0, run.stderr
    assert "notice" not in run.stdout + run.stderr  # no operator in the input
    return {e["kind"]: [f"{w['policy']}: {w['message']}" for w in e["warnings"]] for e in run.json()}


def test_memory_is_the_default_and_todays_warnings(toolhive: Path, tmp_path: Path) -> None:
    today = {kind: [NOT_SHARED] for kind in EXAMPLES}
    assert findings(toolhive, tmp_path, None) == findings(toolhive, tmp_path, "memory") == today


def test_redis_no_false_session_warnings(toolhive: Path, tmp_path: Path) -> None:
    assert findings(toolhive, tmp_path, "redis") == {kind: [ADVICE] for kind in EXAMPLES}


def test_the_operators_chart_in_the_input_gets_the_notice_first(toolhive: Path, tmp_path: Path) -> None:
    """A repository with the operator rendered from its chart (`helm template ... --set
    operator.defaultRedis.addr=myredis:6379`) beside its resources."""
    operator = operator_deployment(toolhive, redis_env(toolhive))
    operator["metadata"]["namespace"] = "toolhive-system"
    stream = yaml.safe_dump_all([operator, *(example(toolhive, kind, replicas=2) for kind in EXAMPLES)])
    config = tmp_path / "config.yaml"
    for default, told in (("memory", True), ("redis", False)):
        config.write_text(yaml.safe_dump({"toolhive": {"defaultSessionStorage": default}}))
        run = check("-f", "-", "--config", config, stdin=stream.encode())
        assert run.code == 0, run.stderr
        first = run.stdout.splitlines()[0]
        assert (
            first.startswith("notice: ToolHive's operator (Deployment toolhive-system/toolhive-operator)")
            is told
        )
        assert run.stdout.count("notice:") == told
        as_json = check("-f", "-", "--config", config, "-o", "json", stdin=stream.encode())
        assert as_json.stderr.count("mcp-admission check: notice: ToolHive's operator") == told


# --- reading the Deployment -------------------------------------------------------------------------


def configured(default: str) -> PolicyConfig:
    return validate(PolicyConfig, {"toolhive": {"defaultSessionStorage": default}})


def placed(deployment: Obj, namespace: str = "toolhive-system") -> Obj:
    deployment["metadata"]["namespace"] = namespace
    return deployment


def operator_of(deployment: Obj) -> Operator | None:
    return toolhive_operator(deployment, "toolhive-system")


# --- reading the Deployment -------------------------------------------------------------------------


def test_the_charts_operator_with_a_default_redis(toolhive: Path) -> None:
    found = operator_of(placed(operator_deployment(toolhive, redis_env(toolhive))))
    assert found == Operator("toolhive-system", "toolhive-operator", f"{ADDR}=myredis:6379")


def test_the_charts_operator_without_one(toolhive: Path) -> None:
    found = operator_of(placed(operator_deployment(toolhive)))
    assert found == Operator("toolhive-system", "toolhive-operator", None)


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([{"name": ADDR, "value": ""}], None),  # empty: no default, as os.Getenv reads it
        ([{"name": ADDR}], None),
        (
            [{"name": ADDR, "value": "a:6379"}, {"name": ADDR, "value": "b:6379"}],
            f"{ADDR}=b:6379",
        ),  # last wins
        ([{"name": ADDR, "value": "a:6379"}, {"name": ADDR, "value": ""}], None),
        (
            [{"name": ADDR, "valueFrom": {"secretKeyRef": {"name": "redis", "key": "addr"}}}],
            f"{ADDR} from Secret redis, key addr, not read",
        ),
        (
            [{"name": ADDR, "valueFrom": {"configMapKeyRef": {"name": "redis", "key": "addr"}}}],
            f"{ADDR} from ConfigMap redis, key addr, not read",
        ),
    ],
)
def test_the_address_as_the_operator_would_read_it(
    toolhive: Path, entries: list[dict[str, Any]], expected: str | None
) -> None:
    found = operator_of(placed(operator_deployment(toolhive, *entries)))
    assert found is not None and found.default_redis == expected


def test_what_is_not_the_operator(toolhive: Path) -> None:
    deployment = placed(operator_deployment(toolhive, redis_env(toolhive)))
    proxy = copy.deepcopy(deployment)  # something the operator made, with whatever environment
    proxy["metadata"]["labels"] = {"toolhive": "true", "app.kubernetes.io/name": "mcpserver"}
    assert operator_of(proxy) is None
    plain = copy.deepcopy(deployment)
    plain["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "GOGC", "value": "75"}]
    assert operator_of(plain) is None
    assert operator_of({"kind": "Deployment", "spec": {"template": {"spec": {"containers": "x"}}}}) is None


def test_notices_only_when_the_configuration_disagrees() -> None:
    with_redis = Operator("toolhive-system", "toolhive-operator", f"{ADDR}=myredis:6379")
    without = Operator("toolhive-system", "toolhive-operator", None)
    assert notices([], configured("memory")) == notices([], configured("redis")) == []
    assert notices([without], configured("memory")) == notices([with_redis], configured("redis")) == []
    (said,) = notices([with_redis], configured("memory"))
    assert said.startswith(
        "ToolHive's operator (Deployment toolhive-system/toolhive-operator) has a default Redis "
        f"({ADDR}=myredis:6379): resources without spec.sessionStorage share sessions through it"
    )
    assert said.endswith("set toolhive.defaultSessionStorage: redis in the configuration")
    (said,) = notices([without], configured("redis"))
    assert said.startswith("toolhive.defaultSessionStorage is redis, but ToolHive's operator (Deployment")
    assert said.endswith("set toolhive.defaultSessionStorage: memory in the configuration")
