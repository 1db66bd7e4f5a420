"""`check` answers termination-grace as the webhook would: the apiserver's pod template default (30) is
replayed first, so a raw manifest without terminationGracePeriodSeconds is judged as it will arrive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .runner import check

FIELD = "terminationGracePeriodSeconds"
REASON = "so a stopping pod can end its MCP streams"

# ToolHive's backend StatefulSet as its proxy runner applies it: no terminationGracePeriodSeconds.
BACKEND = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: search
  namespace: tools
  labels: {toolhive: "true", toolhive-name: search, toolhive-transport: stdio, app: search}
spec:
  serviceName: search
  selector: {matchLabels: {app: search}}
  template:
    metadata: {labels: {app: search}}
    spec:
      containers: [{name: mcp, image: example/search:1}]
"""

# An MCPRemoteProxy whose podTemplateSpec (raw: no CRD default) asks for a short grace.
REMOTE_PROXY = """\
apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPRemoteProxy
metadata: {name: api, namespace: tools}
spec:
  remoteUrl: https://mcp.example.com
  podTemplateSpec:
    spec:
      terminationGracePeriodSeconds: 5
"""


pytestmark = pytest.mark.usefixtures("in_tmp")


def entry(manifest: str, config: str | None = None, *more: str) -> tuple[int, dict[str, Any]]:
    Path("in.yaml").write_text(manifest)
    args = ["-f", "in.yaml", "-o", "json", *more]
    if config is not None:
        Path("config.yaml").write_text(config)
        args += ["--config", "config.yaml"]
    run = check(*args)
    assert run.code in (0, 1), run.stderr
    (result,) = run.json()
    return run.code, result


def grace_findings(result: dict[str, Any]) -> list[str]:
    return [w["message"] for w in result["warnings"] if w["policy"] == "termination-grace"]


def test_absent_grace_on_a_pod_template_is_the_apiservers_30() -> None:
    """The default minimum (30) leaves it alone; a higher one raises it, as the webhook does online."""
    code, result = entry(BACKEND)
    assert code == 0 and grace_findings(result) == [] and result["patch"] == []
    code, result = entry(BACKEND, "policies:\n  termination-grace: {minSeconds: 45}\n")
    assert code == 0
    assert result["patch"] == [{"op": "replace", "path": f"/spec/template/spec/{FIELD}", "value": 45}]
    assert grace_findings(result) == [f"{FIELD} 30 -> 45 {REASON}"]


def test_a_short_grace_on_a_toolhive_resource_is_raised_or_denied() -> None:
    code, result = entry(REMOTE_PROXY)
    assert code == 0
    assert result["patch"] == [{"op": "replace", "path": f"/spec/podTemplateSpec/spec/{FIELD}", "value": 30}]
    assert grace_findings(result) == [f"{FIELD} 5 -> 30 {REASON}"]
    code, result = entry(REMOTE_PROXY, "policies:\n  termination-grace: {mode: enforce}\n")
    assert code == 1 and result["patch"] == []
    assert result["denial"] == {"policy": "termination-grace", "message": f"{FIELD} must be >= 30 {REASON}"}


def test_an_absent_podtemplatespec_value_stays_absent_whatever_the_minimum() -> None:
    """No default exists there (the CRDs' podTemplateSpec is raw), so nothing is judged."""
    manifest = REMOTE_PROXY.replace(
        "      terminationGracePeriodSeconds: 5\n", "      nodeSelector: {a: b}\n"
    )
    code, result = entry(manifest, "policies:\n  termination-grace: {minSeconds: 600}\n")
    assert code == 0 and result["patch"] == [] and grace_findings(result) == []


def test_an_update_is_judged_like_a_create() -> None:
    """--old: the stored object (defaulted alike) and a re-apply that still asks for 5 s."""
    short = BACKEND.replace("      containers:", f"      {FIELD}: 5\n      containers:")
    Path("old.yaml").write_text(BACKEND)
    code, result = entry(short, None, "--old", "old.yaml")
    assert code == 0 and result["operation"] == "UPDATE"
    assert result["patch"] == [{"op": "replace", "path": f"/spec/template/spec/{FIELD}", "value": 30}]
    assert grace_findings(result) == [f"{FIELD} 5 -> 30 {REASON}"]
