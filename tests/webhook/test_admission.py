"""/mutate and /validate over real TLS: every operation, dryRun, DELETE, denials, ToolHive's manifests."""

from __future__ import annotations

import copy
import ssl
from pathlib import Path

import httpx
import pytest

from mcp_admission.cli.config import Config
from mcp_admission.records import validate

from .support import Json, Served, check_answer, make_tls, metric, patched, review, serving, toolhive_object

MCP_LABELS = {"toolhive": "true", "toolhive-name": "yardstick", "app.kubernetes.io/name": "mcpserver"}


def mcp_service(name: str = "mcp-yardstick-proxy", affinity: str = "None") -> Json:
    """ToolHive's proxy Service as the apiserver hands it over: already defaulted (sessionAffinity None)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "toolhive-system", "labels": dict(MCP_LABELS)},
        "spec": {
            "type": "ClusterIP",
            "sessionAffinity": affinity,
            "selector": {"app": "yardstick"},
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "targetPort": 8080}],
        },
    }


def mcp_statefulset(service_name: str = "yardstick") -> Json:
    labels = {
        "toolhive": "true",
        "toolhive-name": "yardstick",
        "toolhive-transport": "sse",
        "app": "yardstick",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "yardstick", "namespace": "toolhive-system", "labels": labels},
        "spec": {
            "replicas": 1,
            "serviceName": service_name,
            "selector": {"matchLabels": {"app": "yardstick"}},
            "template": {
                "metadata": {"labels": {"app": "yardstick"}},
                "spec": {"containers": [{"name": "mcp", "image": "ghcr.io/stackloklabs/yardstick:1.1.1"}]},
            },
        },
    }


def plain_deployment() -> Json:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }


def post(client: httpx.Client, path: str, sent: Json) -> Json:
    answer = client.post(path, json=sent)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    body: Json = answer.json()
    check_answer(body, sent, validating=path == "/validate")
    return body


def test_health_readiness_and_openapi(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok"}
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/mutate", "/validate", "/healthz", "/readyz"} <= set(paths)
    assert "requestBody" in paths["/mutate"]["post"]


def test_tls_is_real_and_verified(served: Served, tmp_path: Path) -> None:
    other = make_tls(tmp_path / "other")  # another CA: the server's certificate must not verify
    with (
        httpx.Client(verify=ssl.create_default_context(cafile=str(other / "ca.crt"))) as stranger,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        stranger.get(f"{served.url}/healthz")
    with pytest.raises(httpx.HTTPError):  # admission is TLS only
        httpx.get(served.url.replace("https://", "http://") + "/healthz", timeout=5)


def test_mcp_service_create_is_patched_by_mutate_only(client: httpx.Client) -> None:
    sent = review(mcp_service())
    body = post(client, "/mutate", sent)
    response = body["response"]
    assert response["allowed"] is True
    patch = check_answer(body, sent, validating=False)
    spec = patched(sent, patch)["spec"]
    assert spec["sessionAffinity"] == "ClientIP"
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 1800}}
    assert [w.split(":")[0] for w in response["warnings"]] == ["session-affinity"]
    # The validating webhook never patches.
    assert "patch" not in post(client, "/validate", sent)["response"]


@pytest.mark.parametrize("operation", ["CREATE", "UPDATE", "DELETE", "CONNECT"])
@pytest.mark.parametrize("path", ["/mutate", "/validate"])
def test_every_operation_on_both_endpoints(client: httpx.Client, operation: str, path: str) -> None:
    service = mcp_service()
    obj = None if operation == "DELETE" else service  # object is null on DELETE
    old = None if operation == "CREATE" else mcp_service(affinity="ClientIP")
    sent = review(obj, operation, old=old, kind="Service")
    response = post(client, path, sent)["response"]
    assert response["allowed"] is True
    if operation in ("CREATE", "UPDATE") and path == "/mutate":
        assert response["patchType"] == "JSONPatch"
    else:  # DELETE, CONNECT and the validating side of a Service: nothing to say
        assert set(response) == {"uid", "allowed"}


def test_not_an_mcp_workload_gets_nothing(client: httpx.Client) -> None:
    for path in ("/mutate", "/validate"):
        for operation in ("CREATE", "UPDATE"):
            old = plain_deployment() if operation == "UPDATE" else None
            response = post(client, path, review(plain_deployment(), operation, old=old))["response"]
            assert set(response) == {"uid", "allowed"} and response["allowed"] is True


def test_scale_subresource_is_not_the_workload(client: httpx.Client) -> None:
    scale = {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": "yardstick"},
        "spec": {"replicas": 5},
    }
    sent = review(
        scale, "UPDATE", old=scale, kind="StatefulSet", group_version=("apps", "v1"), sub_resource="scale"
    )
    assert set(post(client, "/mutate", sent)["response"]) == {"uid", "allowed"}


def test_dry_run_gets_exactly_the_same_answer(client: httpx.Client) -> None:
    for obj in (mcp_service(), mcp_statefulset(), plain_deployment()):
        for path in ("/mutate", "/validate"):
            wet = review(obj)
            dry = copy.deepcopy(wet)
            dry["request"]["dryRun"] = True
            dry["request"]["uid"] = "dry-" + wet["request"]["uid"]
            wet_response = post(client, path, wet)["response"]
            dry_response = post(client, path, dry)["response"]
            assert dry_response.pop("uid") == dry["request"]["uid"]
            wet_response.pop("uid")
            assert dry_response == wet_response


def test_statefulset_dns_on_create_and_kept_on_update(client: httpx.Client) -> None:
    sent = review(mcp_statefulset())
    patch = check_answer(post(client, "/mutate", sent), sent, validating=False)
    assert patched(sent, patch)["spec"]["serviceName"] == "mcp-yardstick-headless"
    # A re-applied original manifest on UPDATE: patched back to the immutable value already stored.
    update = review(mcp_statefulset(), "UPDATE", old=mcp_statefulset("mcp-yardstick-headless"))
    patch = check_answer(post(client, "/mutate", update), update, validating=False)
    assert patched(update, patch)["spec"]["serviceName"] == "mcp-yardstick-headless"


def test_toolhive_mcpservers(client: httpx.Client, toolhive: Path) -> None:
    stdio = toolhive_object(toolhive, "ex-mcp-servers__mcpserver_yardstick_stdio.yaml")
    stdio["spec"]["replicas"] = 3
    sent = review(stdio)
    body = post(client, "/mutate", sent)
    assert patched(sent, check_answer(body, sent, validating=False))["spec"]["replicas"] == 1
    assert body["response"]["warnings"][0].startswith("stdio-replicas: ")

    sse = toolhive_object(toolhive, "ex-mcp-servers__mcpserver_yardstick_sse.yaml")
    sse["spec"]["replicas"] = 2
    sent = review(sse)
    assert "patch" not in post(client, "/mutate", sent)["response"]
    response = post(client, "/validate", sent)["response"]
    assert response["allowed"] is True
    assert any(w.startswith("session-storage: ") for w in response["warnings"]), response

    # ToolHive's own headless Service (its e2e assertion file): never given affinity.
    headless = toolhive_object(toolhive, "chainsaw-st-sse__assert-mcpserver-headless-svc.yaml")
    headless["metadata"].setdefault("labels", {}).update(MCP_LABELS)
    assert "patch" not in post(client, "/mutate", review(headless))["response"]


def test_enforce_mode_denies_with_403_and_policy_id(tls: Path, toolhive: Path) -> None:
    config = validate(Config, {"policies": {"session-storage": {"mode": "enforce"}}})
    sse = toolhive_object(toolhive, "ex-mcp-servers__mcpserver_yardstick_sse.yaml")
    sse["spec"]["replicas"] = 2
    with serving(tls, config) as served, served.client() as client:
        before = httpx.get(served.metrics_url).text
        sent = review(sse)
        response = post(client, "/validate", sent)["response"]
        after = httpx.get(served.metrics_url).text
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    assert response["status"]["message"].startswith("session-storage: ")
    assert metric(after, "mcp_admission_denials_total", policy="session-storage") == (
        metric(before, "mcp_admission_denials_total", policy="session-storage") + 1
    )


def test_metrics_are_plain_http_and_count_requests(served: Served, client: httpx.Client) -> None:
    def requests(text: str) -> float:
        return metric(
            text,
            "mcp_admission_requests_total",
            endpoint="mutate",
            kind="Service",
            operation="CREATE",
            result="allowed",
        )

    before = httpx.get(served.metrics_url).text
    post(client, "/mutate", review(mcp_service()))
    after = httpx.get(served.metrics_url).text
    assert requests(after) == requests(before) + 1
    assert metric(after, "mcp_admission_patches_total", policy="session-affinity") >= 1
    assert "mcp_admission_request_duration_seconds_bucket" in after
