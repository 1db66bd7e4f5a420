"""The audit's cluster tests: objects that violate every policy (and compliant ones) created on the shared
control plane with no webhook installed, so they were never fixed; then `mcp-admission audit` is run as a
real process, the way an operator runs it."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mcp_admission.policies import POLICY_IDS
from tests.check.runner import Run, console_script, in_process
from tests.conftest import ControlPlane
from tests.e2e.harness import Kubectl, Obj
from tests.support import eventually
from tests.support.objects import mcpserver, service, statefulset

TOOLHIVE_CRDS = "crds-k8s-1.20"  # the CRDs made loadable on v1.20 (see the fixtures' README)
# Every kind the objects below have, as kubectl names them.
KINDS = "services,statefulsets.apps,mcpservers.toolhive.stacklok.dev"


def audit(*args: str | Path, kubeconfig: Path | None = None, process: bool = False) -> Run:
    """`mcp-admission audit ARGS` in this process; `process`: as the console script (stdin, stdout and
    stderr are pipes: no terminal), which test_exit_codes runs."""
    argv = ["audit", *map(str, args), *(["--kubeconfig", str(kubeconfig)] if kubeconfig else [])]
    if not process:
        return in_process(*argv)
    proc = subprocess.run([console_script(), *argv], capture_output=True, text=True, timeout=120)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def create(kubectl: Kubectl, namespace: str, *objs: Obj) -> None:
    items = [{**o, "metadata": {**o["metadata"], "namespace": namespace}} for o in objs]
    kubectl("create", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))


def live(kubectl: Kubectl, *namespaces: str) -> list[Obj]:
    """Every object of KINDS in `namespaces`, as the apiserver stores them."""
    found: list[Obj] = []
    for ns in namespaces:
        found += kubectl("get", KINDS, "-n", ns, "-o", "json").json()["items"]
    return found


def settled(obj: Obj) -> bool:
    if obj["kind"] != "StatefulSet":
        return True
    status, want = obj.get("status") or {}, obj["spec"]["replicas"]
    return bool(
        status.get("observedGeneration") == obj["metadata"]["generation"]
        and status.get("updatedReplicas") == want
    )


def grace(obj: Obj, seconds: int) -> Obj:
    obj["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = seconds
    return obj


def violations() -> list[Obj]:
    """One object per policy that would act on it, as they run in clusters the webhook never saw."""
    proxy = service("mcp-notes-proxy", {"toolhive": "true"})  # sessionAffinity: defaulted to None
    return [
        mcpserver("files", transport=None, replicas=3),  # stdio (the CRD default), 3 replicas
        mcpserver("legacy", transport=None, replicas=2, version="v1alpha1"),  # the deprecated version
        mcpserver("weather", transport="sse", replicas=2),  # 2 replicas without Redis
        statefulset("search", transport="sse"),  # serviceName "search": not the headless Service
        grace(statefulset("slow", transport="sse", service_name="mcp-slow-headless"), 5),
        proxy,
    ]


def compliant() -> list[Obj]:
    sticky = service("mcp-calm", {"toolhive": "true"})
    sticky["spec"] |= {
        "sessionAffinity": "ClientIP",
        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 1800}},
    }
    headless = service("mcp-calm-headless", {"toolhive": "true"})
    headless["spec"]["clusterIP"] = "None"
    return [
        statefulset("calm", transport="sse", service_name="mcp-calm-headless"),
        sticky,
        headless,
        mcpserver("steady", transport="sse", replicas=1),
    ]


def not_mcp() -> list[Obj]:
    return [service("plain"), statefulset("db", transport=None)]


GRACE = "termination-grace" in POLICY_IDS  # being added in parallel: expected only once registered
# (kind, name) -> (policy IDs of its findings, {JSON pointer: value} its patch must produce)
FINDINGS: dict[tuple[str, str], tuple[list[str], dict[str, Any]]] = {
    ("MCPServer", "files"): (["stdio-replicas"], {"/spec/replicas": 1}),
    ("MCPServer", "legacy"): (["stdio-replicas"], {"/spec/replicas": 1}),
    ("MCPServer", "weather"): (["session-storage"], {}),
    ("StatefulSet", "search"): (["statefulset-dns"], {}),  # immutable: the fix is to recreate it
    ("StatefulSet", "slow"): (
        (["termination-grace"], {"/spec/template/spec/terminationGracePeriodSeconds": 30})
        if GRACE
        else ([], {})
    ),
    ("Service", "mcp-notes-proxy"): (
        ["session-affinity"],
        {"/spec/sessionAffinity": "ClientIP", "/spec/sessionAffinityConfig/clientIP/timeoutSeconds": 1800},
    ),
}
CLEAN = {
    ("StatefulSet", "calm"),
    ("Service", "mcp-calm"),
    ("Service", "mcp-calm-headless"),
    ("MCPServer", "steady"),
}


def entries(stdout: str, namespace: str) -> dict[tuple[str, str], Obj]:
    return {(e["kind"], e["name"]): e for e in json.loads(stdout) if e["namespace"] == namespace}


def decisions(found: dict[tuple[str, str], Obj]) -> dict[tuple[str, str], Obj]:
    """The entries without where they were listed from."""
    return {key: {k: v for k, v in entry.items() if k != "file"} for key, entry in found.items()}


@dataclass(frozen=True)
class Scenario:
    plane: ControlPlane
    kubectl: Kubectl
    audited: str  # the namespace with every case
    excluded: str  # a namespace the configuration excludes, with violations of its own
    config: Path  # excludedNamespaces: kube-system and `excluded`
    enforcing: Path  # the same, with statefulset-dns in enforce mode
    work: Path

    def run(self, *args: str | Path, config: Path | None = None, process: bool = False) -> Run:
        return audit(
            "--config", config or self.config, *args, kubeconfig=self.plane.kubeconfig, process=process
        )


@pytest.fixture(scope="session")
def kubectl(control_plane: ControlPlane) -> Kubectl:
    return Kubectl(control_plane.kubectl, control_plane.kubeconfig)


def config_file(path: Path, excluded: str, **policies: Any) -> Path:
    document = {"excludedNamespaces": ["kube-system", excluded], "policies": policies}
    path.write_text(yaml.safe_dump(document))
    return path


# Package scope: its MCP StatefulSets are gone before the packages that run a reconciler of every
# namespace on the shared plane (tests/e2e, tests/owners) start: they wait for no namespace to be
# Terminating (tests/support/namespaces.py), so the deletion below need not be waited for.
@pytest.fixture(scope="package")
def scenario(
    control_plane: ControlPlane,
    kubectl: Kubectl,
    toolhive_crds: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Scenario]:
    work = tmp_path_factory.mktemp("audit")
    audited, excluded = unique("audit"), unique("audit-excluded")
    for ns in (audited, excluded):
        kubectl("create", "namespace", ns)
    try:
        create(kubectl, audited, *violations(), *compliant(), *not_mcp())
        create(kubectl, excluded, *violations())
        # The StatefulSet controller writes their status once (no nodes: the pods stay Pending), then
        # nobody writes any of these objects but the test: their resourceVersions hold still.
        eventually(
            lambda: all(settled(o) for o in live(kubectl, audited, excluded)), "the StatefulSets' status"
        )
        yield Scenario(
            control_plane,
            kubectl,
            audited,
            excluded,
            config_file(work / "config.yaml", excluded),
            config_file(work / "enforce.yaml", excluded, **{"statefulset-dns": {"mode": "enforce"}}),
            work,
        )
    finally:
        kubectl("delete", "namespace", audited, excluded, "--wait=false", check=False)
