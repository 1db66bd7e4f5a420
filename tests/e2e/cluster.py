"""The installed product on the shared control plane, and `apply`: kubectl as a user runs it, checked
against what `mcp-admission check` predicted offline for the same object (parity)."""

from __future__ import annotations

import base64
import json
import ssl
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import jsonpatch
import yaml

from tests.check.runner import Run, check
from tests.support import eventually

from .harness import Kubectl, Obj, Process, Result

WEBHOOK_NS = "mcp-admission"
WEBHOOK_SA = "mcp-admission-webhook"
RECONCILER_SA = "mcp-admission-reconciler"
# On every namespace the e2e tests make, so that the package's end can remove them all from the shared plane.
PACKAGE_LABEL = ("tests.mcp-admission.io/package", "e2e")
E2E_LABEL = "=".join(PACKAGE_LABEL)


@dataclass
class Applied:
    """One `kubectl apply` and what `mcp-admission check` had predicted for it."""

    result: Result
    predicted: Obj  # check's JSON entry for the object
    stored: Obj | None  # the object as the apiserver stored it (None on dry-run)

    @property
    def warnings(self) -> list[str]:
        return self.result.warnings

    @property
    def predicted_warnings(self) -> list[str]:
        return [f"{w['policy']}: {w['message']}" for w in self.predicted["warnings"]]


@dataclass
class Cluster:
    kubectl: Kubectl
    env: dict[str, str]  # the control plane's: KUBE_APISERVER_URL, KUBE_CA_FILE, ...
    dir: Path
    config: Path  # the configuration file the overlay ships, as serve/reconcile/check read it
    webhook: Process
    reconciler: Process
    webhook_url: str
    ca_file: Path

    def namespace(self, prefix: str, labels: dict[str, str] | None = None) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        meta: Obj = {"name": name, "labels": {**dict([PACKAGE_LABEL]), **(labels or {})}}
        self.kubectl(
            "create", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
        )
        return name

    def webhook_ready(self) -> bool:
        try:
            trust = ssl.create_default_context(cafile=str(self.ca_file))
            return httpx.get(f"{self.webhook_url}/readyz", verify=trust, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def start_webhook(self) -> None:
        self.webhook.start()
        eventually(self.webhook_ready, "the webhook's /readyz", timeout=30)

    def decisions(self, since: int, kind: str, name: str) -> list[Obj]:
        """The webhook's decision log lines for one object, logged after byte offset `since`."""
        return [
            e
            for e in self.webhook.json_lines(since)
            if e.get("message") == "decision" and e.get("kind") == kind and e.get("name") == name
        ]

    def check(self, manifest: Path, namespace: str, old: Path | None = None) -> Run:
        """`mcp-admission check -o json` on one manifest, run in this process (its start-up is most of
        its time, and every apply runs it)."""
        olds = ["--old", str(old)] if old is not None else []
        return check("-f", manifest, "-o", "json", "--config", self.config, "-n", namespace, *olds)

    def apply(self, manifest: Obj, namespace: str, *extra: str, dry_run: bool = False) -> Applied:
        """`kubectl apply` one object, and assert `mcp-admission check` predicted the same result.

        Parity: the same policy warnings, in kubectl's stderr as check said; every patch check
        predicted is in the stored object; the webhook logged as many patches as check predicted.
        """
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        work = self.dir / f"{namespace}-{kind}-{name}-{uuid.uuid4().hex[:6]}"
        work.mkdir()
        path = work / "manifest.yaml"
        path.write_text(yaml.safe_dump(manifest))
        resource = f"{kind}.{manifest['apiVersion'].split('/')[0]}" if "/" in manifest["apiVersion"] else kind
        old = self.kubectl.get(resource, name, namespace)
        old_path = None
        if old is not None:
            old_path = work / "old.json"
            old_path.write_text(json.dumps(old))

        checked = self.check(path, namespace, old_path)
        assert checked.code in (0, 1), f"check failed ({checked.code}): {checked.stderr}"
        (predicted,) = checked.json()
        assert predicted["operation"] == ("UPDATE" if old is not None else "CREATE")

        since = self.webhook.log_size()
        args = ["apply", "-n", namespace, "-f", str(path), *extra]
        if dry_run:
            args.append("--dry-run=server")
        result = self.kubectl(*args, check=False)
        applied = Applied(result, predicted, None)
        assert sorted(result.warnings) == sorted(applied.predicted_warnings), (
            f"kubectl printed {result.warnings}, check predicted {applied.predicted_warnings}"
        )
        if result.returncode != 0:
            return applied

        def logged() -> list[Obj]:
            return self.decisions(since, kind, name)

        # The webhook writes its log line just after its answer: on a busy machine kubectl can be
        # done first. When check predicts an effect, the line must come.
        if predicted["patch"]:
            eventually(
                lambda: any(d["endpoint"] == "mutate" for d in logged()),
                f"the webhook's mutation of {kind}/{name}",
                timeout=5,
            )
        elif predicted["warnings"]:
            eventually(logged, f"the webhook's decision on {kind}/{name}", timeout=5)
        decisions = logged()
        mutations = [d for d in decisions if d["endpoint"] == "mutate"]
        for decision in decisions:
            assert decision["dryRun"] is dry_run
        if mutations:
            assert mutations[-1]["patches"] == len(predicted["patch"]), (mutations, predicted["patch"])
        if dry_run:
            return applied

        applied.stored = self.kubectl.get(resource, name, namespace)
        assert applied.stored is not None
        for op in predicted["patch"]:
            if op["op"] in ("add", "replace"):
                stored = jsonpatch.JsonPointer(op["path"]).resolve(applied.stored)
                assert stored == op["value"], (op, applied.stored)
        return applied


def service_account_kubeconfig(
    kubectl: Kubectl, env: dict[str, str], account: str, path: Path, namespace: str = WEBHOOK_NS
) -> Path:
    """A kubeconfig that authenticates as a ServiceAccount with its token (v1.20: a token Secret)."""

    def token_secret() -> str | None:
        sa = kubectl.get("serviceaccount", account, namespace)
        secrets = (sa or {}).get("secrets") or []
        return secrets[0]["name"] if secrets else None

    secret = kubectl.get("secret", eventually(token_secret, f"a token for {account}"), namespace)
    assert secret is not None
    token = base64.b64decode(secret["data"]["token"]).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "e2e",
                "cluster": {
                    "server": env["KUBE_APISERVER_URL"],
                    "certificate-authority": env["KUBE_CA_FILE"],
                },
            }
        ],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [
            {"name": account, "context": {"cluster": "e2e", "user": account, "namespace": namespace}}
        ],
        "current-context": account,
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path
