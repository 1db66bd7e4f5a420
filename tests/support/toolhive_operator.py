"""ToolHive's operator Deployment as its Helm chart renders it (deploy/charts/operator, read in place):
the values from its values.yaml, and TOOLHIVE_DEFAULT_REDIS_ADDR exactly as the chart's own helm-unittest
suite (tests/default_redis_test.yaml) asserts it on the first container."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CHART = Path("repo/deploy/charts/operator")


def redis_env(toolhive: Path) -> dict[str, Any]:
    """The env entry the chart renders for `operator.defaultRedis.addr`, as its test suite asserts it."""
    suite = yaml.safe_load((toolhive / CHART / "tests/default_redis_test.yaml").read_text())
    (test,) = [
        t
        for t in suite["tests"]
        if t["it"] == "injects TOOLHIVE_DEFAULT_REDIS_ADDR from operator.defaultRedis.addr"
    ]
    (assertion,) = test["asserts"]
    content: dict[str, Any] = assertion["contains"]["content"]
    return content


def operator_deployment(toolhive: Path, *extra_env: dict[str, Any]) -> dict[str, Any]:
    """templates/deployment.yaml with the chart's default values, release name `toolhive-operator`."""
    values = yaml.safe_load((toolhive / CHART / "values.yaml").read_text())["operator"]
    selector = {
        "app.kubernetes.io/name": "toolhive-operator",
        "app.kubernetes.io/instance": "toolhive-operator",
        "app.kubernetes.io/part-of": "toolhive-operator",
    }
    labels = {**selector, "app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/version": "v0.44.0"}
    env = [
        {"name": "GOMEMLIMIT", "value": values["gc"]["gomemlimit"]},
        {"name": "GOGC", "value": str(values["gc"]["gogc"])},
        {"name": "UNSTRUCTURED_LOGS", "value": "false"},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "TOOLHIVE_USE_CONFIGMAP", "value": "true"},
        {"name": "TOOLHIVE_RUNNER_IMAGE", "value": values["toolhiveRunnerImage"]},
        {"name": "VMCP_IMAGE", "value": values["vmcpImage"]},
        {"name": "TOOLHIVE_PROXY_HOST", "value": values["proxyHost"]},
        *extra_env,
    ]
    container = {"name": "manager", "image": values["image"], "args": ["--leader-elect"], "env": env}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "toolhive-operator", "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": "toolhive-operator",
                    "terminationGracePeriodSeconds": 10,
                    "containers": [container],
                },
            },
        },
    }
