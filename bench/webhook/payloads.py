"""The three AdmissionReview bodies of the load benchmark (design §7), built from real shapes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import yaml

TOOLHIVE = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "toolhive"


def review(group: str, version: str, kind: str, operation: str, obj: Any, old: Any = None) -> bytes:
    meta = obj.get("metadata", {}) if isinstance(obj, dict) else {}
    request = {
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": kind.lower() + "s"},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "name": meta.get("name", ""),
        "namespace": meta.get("namespace", "bench"),
        "operation": operation,
        "userInfo": {"username": "admin", "uid": "014fbff9a07c", "groups": ["system:authenticated"]},
        "object": obj,
        "oldObject": old,
        "dryRun": False,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": f"{operation.title()}Options"},
    }
    return orjson.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})


def deployment_update() -> bytes:
    """A plain web Deployment (not MCP), object + oldObject, as the apiserver sends it (~6 KB)."""
    container = {
        "name": "web",
        "image": "registry.example.com/shop/web:2.14.3",
        "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
        "env": [{"name": f"FEATURE_FLAG_{i}", "value": f"value-{i}"} for i in range(10)],
        "resources": {
            "limits": {"cpu": "500m", "memory": "512Mi"},
            "requests": {"cpu": "100m", "memory": "128Mi"},
        },
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": "http", "scheme": "HTTP"},
            "periodSeconds": 10,
        },
        "livenessProbe": {
            "httpGet": {"path": "/live", "port": "http", "scheme": "HTTP"},
            "periodSeconds": 10,
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": "0b2e5a3c-1f7d-4c43-a3e7-0e2d1b6f4a51",
            "resourceVersion": "123456",
            "generation": 7,
            "labels": {
                "app.kubernetes.io/name": "web",
                "app.kubernetes.io/part-of": "shop",
                "tier": "frontend",
            },
            "annotations": {"deployment.kubernetes.io/revision": "7"},
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "web", "tier": "frontend"}},
                "spec": {
                    "containers": [container, {**container, "name": "sidecar", "image": "envoy:v1.31"}],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst",
                    "schedulerName": "default-scheduler",
                    "securityContext": {"runAsNonRoot": True},
                },
            },
        },
        "status": {"observedGeneration": 7, "replicas": 3, "readyReplicas": 3, "availableReplicas": 3},
    }
    old = copy.deepcopy(obj)
    old["spec"]["replicas"] = 2
    return review("apps", "v1", "Deployment", "UPDATE", obj, old)


def mcp_service_create() -> bytes:
    """ToolHive's proxy Service for MCPServer yardstick (design §3), defaulted: session-affinity patches."""
    labels = {
        "app": "mcpserver",
        "app.kubernetes.io/name": "mcpserver",
        "app.kubernetes.io/instance": "yardstick",
        "toolhive": "true",
        "toolhive-name": "yardstick",
    }
    obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "mcp-yardstick-proxy", "namespace": "toolhive-system", "labels": labels},
        "spec": {
            "type": "ClusterIP",
            "sessionAffinity": "None",
            "selector": labels,
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "targetPort": 8080}],
        },
    }
    return review("", "v1", "Service", "CREATE", obj)


def mcpserver_create() -> bytes:
    """ToolHive's own sse example with 2 replicas and no Redis: session-storage warns."""
    obj = yaml.safe_load((TOOLHIVE / "examples" / "ex-mcp-servers__mcpserver_yardstick_sse.yaml").read_text())
    obj["spec"]["replicas"] = 2
    return review("toolhive.stacklok.dev", "v1beta1", "MCPServer", "CREATE", obj)


# name → (body, the endpoint it goes to): the MCPServer's warning comes from the validating webhook.
PAYLOADS = {
    "deployment-update": (deployment_update, "/mutate"),
    "mcp-service-create": (mcp_service_create, "/mutate"),
    "mcpserver-create": (mcpserver_create, "/validate"),
}
