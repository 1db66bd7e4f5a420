"""The Helm chart installed as users install it (issue 24 §3), as real pods on the node: `helm install`
with the image values only, the pods ready, the certificates injected, the apiserver reaching the
webhook through the release's Service; then `helm upgrade` to another image under a steady stream of
MCP applies, which must admit none unpatched.

The chart has the node to itself for this module: the kustomize install (`installed`) is a module
fixture of test_pods.py, gone before this module starts or not yet there. Otherwise its webhook, which
patches the same Services, would hide a chart webhook the apiserver cannot reach. The release still
has names of its own (release `node` → `node-mcp-admission`, the cluster-scoped ones too) and its own
namespace, so that a kustomize install still terminating cannot collide with it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from tests.conftest import ControlPlane, Image
from tests.deploy.helm import CHART, helm
from tests.e2e.harness import Kubectl, dump, policy_warnings
from tests.support.objects import mcpserver

from .conftest import RECONCILER_PODS, WEBHOOK_PODS, an_mcp_service_comes_back_patched, namespace, pods
from .rolling import pod_names, rolled_under_stream, rollout_status, wait_rolled

pytestmark = [pytest.mark.cluster, pytest.mark.node]

RELEASE, NS = "node", "node-chart"
FULLNAME = f"{RELEASE}-mcp-admission"
WEBHOOK, RECONCILER = f"{FULLNAME}-webhook", f"{FULLNAME}-reconciler"
WEBHOOK_CONFIGS = ("mutatingwebhookconfigurations", "validatingwebhookconfigurations")
UPGRADE_TAG = "upgrade"  # a second tag of the test image, made on the node: the only change


def image_values(image: str) -> list[str]:
    repository, tag = image.rsplit(":", 1)
    return ["--set", f"image.repository={repository}", "--set", f"image.tag={tag}"]


def on_node(plane: ControlPlane, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return helm(*args, check=check, env={"KUBECONFIG": str(plane.kubeconfig)})


def images_of(kubectl: Kubectl, selector: str) -> dict[str, set[str]]:
    """Pod name → the images of its containers and init containers."""
    out = kubectl("-n", NS, "get", "pods", "-l", selector, "-o", "json").stdout
    return {
        pod["metadata"]["name"]: {
            c["image"] for c in pod["spec"]["containers"] + pod["spec"].get("initContainers", [])
        }
        for pod in json.loads(out)["items"]
    }


def tag_on_node(plane: ControlPlane, image: str, tag: str) -> str:
    """`image` under another tag in the node's containerd (what a registry push of a rebuild would
    give the kubelet, without a registry): the pods run `IfNotPresent`, so it is what they start."""
    new = f"{image.rsplit(':', 1)[0]}:{tag}"
    ctr = ["ctr", "--address", plane.env["KUBE_CTR_ADDRESS"], "--namespace", "k8s.io", "images", "tag"]
    proc = subprocess.run([*ctr, image, new], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return new


@pytest.fixture(scope="module")
def chart(
    node_plane: ControlPlane, node_kubectl: Kubectl, project_image: Image, toolhive_crds: None
) -> Iterator[Kubectl]:
    """`helm install` of deploy/charts/mcp-admission with the test image, both Deployments rolled out;
    `helm uninstall` after the module."""
    kubectl = node_kubectl
    on_node(node_plane, "install", RELEASE, str(CHART), "-n", NS, "--create-namespace",
            *image_values(project_image.name))  # fmt: skip
    try:
        for deployment in (WEBHOOK, RECONCILER):
            status = rollout_status(kubectl, NS, deployment)
            assert status.returncode == 0, (
                f"{deployment} did not roll out:\n{status.stderr}\n{pods(kubectl, NS)}"
            )
        yield kubectl
    finally:
        on_node(node_plane, "uninstall", RELEASE, "-n", NS, check=False)


def test_the_chart_runs_as_pods_and_the_certificates_are_injected(
    chart: Kubectl, project_image: Image
) -> None:
    kubectl = chart
    for deployment in (WEBHOOK, RECONCILER):
        status = (kubectl.get("deployment", deployment, NS) or {}).get("status", {})
        assert status.get("availableReplicas") == 2, (deployment, status, pods(kubectl, NS))
    for selector in (WEBHOOK_PODS, RECONCILER_PODS):
        assert set(map(frozenset, images_of(kubectl, selector).values())) == {frozenset({project_image.name})}
    # The only webhooks on the node are the release's: whatever comes back patched, its webhook patched.
    for kind in WEBHOOK_CONFIGS:
        items = json.loads(kubectl("get", kind, "-o", "json").stdout)["items"]
        names = [o["metadata"]["name"] for o in items]
        assert names == [FULLNAME], (kind, names)
    tls = kubectl.get("secret", f"{FULLNAME}-tls", NS)
    assert tls is not None, pods(kubectl, NS)
    for kind in WEBHOOK_CONFIGS:
        config = kubectl.get(kind, FULLNAME)
        assert config is not None, kind
        assert {w["clientConfig"]["caBundle"] for w in config["webhooks"]} == {tls["data"]["ca.crt"]}, kind
        assert {(w["clientConfig"]["service"]["name"], w["clientConfig"]["service"]["namespace"])
                for w in config["webhooks"]} == {(FULLNAME, NS)}  # fmt: skip


def test_the_apiserver_reaches_the_charts_webhook(chart: Kubectl) -> None:
    kubectl = chart
    ns = namespace(kubectl, "chart-svc")
    an_mcp_service_comes_back_patched(kubectl, ns)

    server = mcpserver("shared", transport="streamable-http", replicas=3)
    applied = kubectl("-n", ns, "apply", "-f", "-", stdin=dump([server]))
    assert [w.split(":")[0] for w in policy_warnings(applied.stderr)] == ["session-storage"], applied.stderr


def test_a_helm_upgrade_of_the_image_under_a_stream_of_applies_admits_none_unpatched(
    chart: Kubectl, node_plane: ControlPlane, project_image: Image
) -> None:
    kubectl = chart
    new_image = tag_on_node(node_plane, project_image.name, UPGRADE_TAG)
    old_reconcilers = pod_names(kubectl, NS, RECONCILER_PODS)
    upgrade = ("upgrade", RELEASE, str(CHART), "-n", NS, *image_values(new_image))
    ns = namespace(kubectl, "chart-rollout")
    rolled = rolled_under_stream(node_plane.env, ns, kubectl, NS, WEBHOOK, WEBHOOK_PODS,
                                 start=lambda: on_node(node_plane, *upgrade), rate=10)  # fmt: skip
    tally = rolled.tally
    print(f"helm upgrade of the image, webhook rolled in {rolled.seconds:.0f} s: {tally.line()}")
    assert tally.unpatched == 0, f"{tally.line()}; unpatched at {tally.unpatched_at} s\n{pods(kubectl, NS)}"
    assert not tally.errors, tally.line()
    assert tally.patched >= 50, f"too few applies to say anything: {tally.line()}"

    # The rollout is complete: only new pods, every one of them on the new image (the reconciler too).
    wait_rolled(kubectl, NS, RECONCILER, RECONCILER_PODS, old_reconcilers)
    for selector, old in ((WEBHOOK_PODS, rolled.old), (RECONCILER_PODS, old_reconcilers)):
        now = images_of(kubectl, selector)
        assert len(now) == 2 and not old & now.keys(), (selector, now, old)
        assert set(map(frozenset, now.values())) == {frozenset({new_image})}, now
