"""ToolHive's resources are found by API discovery: absent CRDs are skipped quietly, and a cluster that
serves only v1alpha1 is read at v1alpha1. On the scratch plane: the shared one has the CRDs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import ControlPlane
from tests.e2e.harness import Kubectl
from tests.support.objects import mcpserver, service

from .conftest import TOOLHIVE_CRDS, audit, create, entries

pytestmark = pytest.mark.cluster


def only_v1alpha1(crd: dict[str, object]) -> dict[str, object]:
    """An MCPServer CRD as older ToolHive releases shipped it: v1alpha1 alone, stored."""
    spec = crd["spec"]
    assert isinstance(spec, dict)
    (version,) = [v for v in spec["versions"] if v["name"] == "v1alpha1"]
    spec["versions"] = [{**version, "storage": True}]
    return crd


def test_toolhive_versions_come_from_discovery(scratch_plane: ControlPlane, toolhive: Path) -> None:
    plane = scratch_plane
    kubectl = Kubectl(plane.kubectl, plane.kubeconfig)
    kubectl("create", "namespace", "tools")
    try:
        create(kubectl, "tools", service("mcp-notes-proxy", {"toolhive": "true"}))

        without = audit("-n", "tools", "-o", "json", kubeconfig=plane.kubeconfig)
        assert without.code == 0, without.stderr
        assert set(entries(without.stdout, "tools")) == {("Service", "mcp-notes-proxy")}
        assert "toolhive" not in without.stderr  # no error, no mention: nothing to read there

        crd = yaml.safe_load((toolhive / TOOLHIVE_CRDS / "toolhive.stacklok.dev_mcpservers.yaml").read_text())
        kubectl("create", "-f", "-", stdin=yaml.safe_dump(only_v1alpha1(crd)))
        kubectl("wait", "--for", "condition=established", "--timeout=60s", f"crd/{crd['metadata']['name']}")
        create(kubectl, "tools", mcpserver("files", transport=None, replicas=2, version="v1alpha1"))

        found = audit("-n", "tools", "-o", "json", kubeconfig=plane.kubeconfig)
        assert found.code == 0, found.stderr
        server = entries(found.stdout, "tools")[("MCPServer", "files")]
        assert server["apiVersion"] == "toolhive.stacklok.dev/v1alpha1"
        assert server["file"] == "apis/toolhive.stacklok.dev/v1alpha1/namespaces/tools/mcpservers"
        assert server["patch"] == [{"op": "replace", "path": "/spec/replicas", "value": 1}]
        # The other two kinds have no CRD here: not read, and no error for it.
        assert "mcpservers.toolhive.stacklok.dev 1" in found.stderr
        assert "mcpremoteproxies" not in found.stderr and "virtualmcpservers" not in found.stderr
    finally:  # the scratch plane as it was: no ToolHive CRD
        kubectl("delete", "namespace", "tools", "--wait=false", check=False)
        kubectl(
            "delete",
            "crd",
            "mcpservers.toolhive.stacklok.dev",
            "--ignore-not-found",
            "--wait=false",
            check=False,
        )
