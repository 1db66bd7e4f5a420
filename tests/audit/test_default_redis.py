"""The ToolHive operator's default Redis in a cluster: read from its Deployment, said once at the top of the
audit's report when the configuration disagrees; and with toolhive.defaultSessionStorage set, no false
session warnings."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.check.runner import Run
from tests.conftest import ControlPlane
from tests.e2e.harness import Kubectl, Obj
from tests.policies.toolhive_objects import ADVICE, EXAMPLES, NOT_SHARED, example
from tests.support.toolhive_operator import operator_deployment, redis_env

from .conftest import audit, create, unique

ADDR = "TOOLHIVE_DEFAULT_REDIS_ADDR"


def placed(deployment: Obj, namespace: str) -> Obj:
    deployment["metadata"]["namespace"] = namespace
    return deployment


# --- in a cluster ---------------------------------------------------------------------------------


def resources(toolhive: Path) -> list[Obj]:
    """ToolHive's own examples at two replicas: no sessionStorage, except the remote proxy's explicit
    memory (which its operator keeps even with a default Redis)."""
    storage = {"MCPRemoteProxy": {"sessionStorage": {"provider": "memory"}}}
    return [example(toolhive, kind, replicas=2, **storage.get(kind, {})) for kind in EXAMPLES]


@dataclass
class Cluster:
    plane: ControlPlane
    kubectl: Kubectl
    toolhive: Path
    namespace: str
    work: Path

    def operator(self, *env: dict[str, Any]) -> None:
        deployment = placed(operator_deployment(self.toolhive, *env), self.namespace)
        self.kubectl("apply", "-f", "-", stdin=json.dumps(deployment))

    def audit(self, default: str | None, *args: str) -> Run:
        config = self.work / f"{default}.yaml"
        document = {} if default is None else {"toolhive": {"defaultSessionStorage": default}}
        config.write_text(yaml.safe_dump(document))
        return audit("--config", config, "-n", self.namespace, *args, kubeconfig=self.plane.kubeconfig)


@pytest.fixture
def cluster(
    control_plane: ControlPlane, kubectl: Kubectl, toolhive_crds: None, toolhive: Path, tmp_path: Path
) -> Iterator[Cluster]:
    ns = unique("redis")
    kubectl("create", "namespace", ns)
    try:
        create(kubectl, ns, *resources(toolhive))
        yield Cluster(control_plane, kubectl, toolhive, ns, tmp_path)
    finally:
        # At once, not with the namespace: an audit of all namespaces must not meet this operator.
        kubectl("delete", "deployment", "toolhive-operator", "-n", ns, "--ignore-not-found", check=False)
        kubectl("delete", "namespace", ns, "--wait=false", check=False)


def warnings(run: Run) -> dict[str, list[str]]:
    assert run.code == 0, run.stderr
    return {e["kind"]: [f"{w['policy']}: {w['message']}" for w in e["warnings"]] for e in run.json()}


pytestmark = pytest.mark.cluster


def test_without_a_default_redis_the_report_is_todays(cluster: Cluster) -> None:
    today = cluster.audit(None)
    assert today.code == 0, today.stderr
    cluster.operator()  # the chart's operator, no defaultRedis
    for default in (None, "memory"):
        run = cluster.audit(default)
        assert (run.code, run.stdout) == (0, today.stdout)
        assert "notice" not in run.stderr
    assert warnings(cluster.audit("memory", "-o", "json")) == {kind: [NOT_SHARED] for kind in EXAMPLES}
    # The configuration claims a default Redis this operator does not have: said, with the fix.
    first = cluster.audit("redis").stdout.splitlines()[0]
    assert first.startswith(
        "notice: toolhive.defaultSessionStorage is redis, but ToolHive's operator "
        f"(Deployment {cluster.namespace}/toolhive-operator) has no {ADDR}"
    )


def test_with_a_default_redis_the_configuration_is_told_then_followed(cluster: Cluster) -> None:
    today = cluster.audit("memory")
    cluster.operator(redis_env(cluster.toolhive))  # helm ... --set operator.defaultRedis.addr=myredis:6379

    # As configured today (memory): the same findings, and once, first, what to change.
    told = cluster.audit("memory")
    assert told.code == 0, told.stderr
    notice, *rest = told.stdout.splitlines()
    assert notice == (
        f"notice: ToolHive's operator (Deployment {cluster.namespace}/toolhive-operator) has a default "
        f"Redis ({ADDR}=myredis:6379): resources without spec.sessionStorage share sessions through it, "
        "but toolhive.defaultSessionStorage is memory, so session-storage and affinity-with-redis warn as "
        "if they did not; set toolhive.defaultSessionStorage: redis in the configuration"
    )
    assert rest == today.stdout.splitlines()
    assert told.stdout.count("notice:") == 1 and "notice" not in told.stderr  # the text report says it

    sarif, junit = cluster.work / "audit.sarif", cluster.work / "audit.xml"
    formats = cluster.audit("memory", "-o", "json", "-o", f"sarif={sarif}", "-o", f"junit={junit}")
    assert formats.json() == json.loads(cluster.audit("memory", "-o", "json").stdout)  # json: entries only
    assert formats.stderr.count(f"mcp-admission audit: {notice}") == 1  # ... the notice on stderr
    (run,) = json.loads(sarif.read_text())["runs"]
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is True
    assert invocation["toolConfigurationNotifications"] == [
        {"descriptor": {"id": "configuration"}, "level": "warning", "message": {"text": notice[8:]}}
    ]
    root = ET.fromstring(junit.read_text())
    first = root.find("testsuite")
    assert first is not None and first.get("name") == "notices" and first.get("tests") == "0"
    assert [p.get("value") for p in first.iter("property")] == [notice[8:]]
    assert root.get("tests") == str(len(EXAMPLES))  # the notice is no test

    # Configured as the operator is: no notice, and no false session warnings.
    followed = cluster.audit("redis", "-o", "json")
    assert "notice" not in followed.stderr
    assert warnings(followed) == {
        "MCPServer": [ADVICE],
        "VirtualMCPServer": [ADVICE],
        "MCPRemoteProxy": [NOT_SHARED],  # its explicit memory is kept
    }
    assert "notice" not in cluster.audit("redis").stdout
