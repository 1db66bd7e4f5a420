"""Shared by the webhook tests: AdmissionReview bodies, the apiserver's checks of an answer, a real server."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonpatch
import yaml
from prometheus_client.parser import text_string_to_metric_families

from mcp_admission.certs.generate import generate_bundle, write_bundle
from mcp_admission.cli.config import Config
from mcp_admission.policies import ALL_POLICIES
from mcp_admission.policies.engine.policy import Policy
from mcp_admission.webhook.server import WebhookServer
from mcp_admission.webhook.settings import WebhookSettings
from tests.support import eventually, free_port

Json = dict[str, Any]


def make_tls(directory: Path) -> Path:
    """A CA of the test's own and a serving certificate it signed for 127.0.0.1 and localhost."""
    write_bundle(generate_bundle("webhook-test", "tests", extra_sans=("127.0.0.1", "localhost")), directory)
    return directory


def review(
    obj: Json | None,
    operation: str = "CREATE",
    *,
    old: Json | None = None,
    kind: str | None = None,
    group_version: tuple[str, str] | None = None,
    namespace: str | None = None,
    dry_run: bool = False,
    sub_resource: str | None = None,
) -> Json:
    """An AdmissionReview v1 request as the apiserver sends it (fields it omits when empty omitted)."""
    source = obj or old or {}
    kind = kind or source.get("kind", "Service")
    if group_version is None:
        api_version = source.get("apiVersion", "v1")
        group, _, version = api_version.rpartition("/")
        group_version = (group, version)
    meta = source.get("metadata", {})
    request: Json = {
        "uid": str(uuid.uuid4()),
        "kind": {"group": group_version[0], "version": group_version[1], "kind": kind},
        "resource": {"group": group_version[0], "version": group_version[1], "resource": kind.lower() + "s"},
        "name": meta.get("name", ""),
        "namespace": namespace if namespace is not None else meta.get("namespace", "webhook-tests"),
        "operation": operation,
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
        "object": obj,
        "oldObject": old,
        "dryRun": dry_run,
    }
    if sub_resource:
        request["subResource"] = sub_resource
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def toolhive_object(toolhive: Path, name: str) -> Json:
    loaded: Json = yaml.safe_load((toolhive / "examples" / name).read_text())
    return loaded


def check_answer(body: Json, sent: Json, *, validating: bool) -> list[Json]:
    """The apiserver's checks of an answer (design §5); returns the decoded JSON Patch (maybe empty).

    Every returned patch must apply to the object that was sent.
    """
    assert body["apiVersion"] == "admission.k8s.io/v1", body
    assert body["kind"] == "AdmissionReview", body
    response = body["response"]
    assert response["uid"] == sent["request"]["uid"], body
    assert isinstance(response["allowed"], bool), body
    assert ("patch" in response) == ("patchType" in response), body
    for warning in response.get("warnings", []):
        # The apiserver drops empty warnings and any with control characters; keep them short.
        assert warning and warning.isprintable() and len(warning) <= 120, warning
    if not response["allowed"]:
        status = response["status"]
        assert status["code"] == 403 and status["message"], body
    if "patch" not in response:
        return []
    assert not validating, "a validating webhook may not return a patch"
    assert response["patchType"] == "JSONPatch", body
    patch: list[Json] = json.loads(base64.b64decode(response["patch"], validate=True))
    assert isinstance(patch, list) and patch, "a patch is sent only when there is something to patch"
    jsonpatch.apply_patch(sent["request"]["object"], patch)  # raises if it does not apply
    return patch


def patched(sent: Json, patch: list[Json]) -> Json:
    result: Json = jsonpatch.apply_patch(sent["request"]["object"], patch)
    return result


@dataclass
class Served:
    url: str
    metrics_url: str
    ca_file: Path
    server: WebhookServer

    def client(self) -> httpx.Client:
        """A real HTTPS client that trusts only the test's CA and checks the server's name."""
        return httpx.Client(base_url=self.url, verify=ssl.create_default_context(cafile=str(self.ca_file)))


@contextmanager
def serving(
    tls: Path,
    config: Config | None = None,
    *,
    policies: Sequence[Policy[Any]] = ALL_POLICIES,
    **settings: Any,
) -> Iterator[Served]:
    """The real webhook server (uvicorn, TLS, metrics listener) on 127.0.0.1, in a thread of this process."""
    webhook = WebhookSettings(
        host="127.0.0.1",
        port=free_port(),
        metrics_port=free_port(),
        cert_file=str(tls / "tls.crt"),
        key_file=str(tls / "tls.key"),
        **settings,
    )
    server = WebhookServer(config or Config(), webhook, policies=policies)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve())
        except BaseException as exc:  # surfaced below instead of dying silently in the thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="webhook", daemon=True)
    thread.start()

    def started() -> bool:
        assert not failure, f"the server did not start: {failure[0]!r}"  # fail now, not after the timeout
        return server.started

    eventually(started, "the server to start", interval=0.02)
    try:
        yield Served(
            f"https://127.0.0.1:{webhook.port}",
            f"http://127.0.0.1:{webhook.metrics_port}/metrics",
            tls / "ca.crt",
            server,
        )
    finally:
        server.stop()
        thread.join(timeout=30)
    assert not thread.is_alive(), "the server did not stop"
    assert not failure, failure


def metric(text: str, name: str, **labels: str) -> float:
    """One sample's value from a Prometheus text exposition (0 when absent), read by prometheus-client's
    own parser."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0
