"""The install as real pods (issue 18 §3): what the pods do on a kubelet, seen through the apiserver."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.conftest import ControlPlane
from tests.e2e.harness import Kubectl, dump, policy_warnings
from tests.support import eventually
from tests.support.objects import mcpserver, statefulset

from .conftest import NS, RECONCILER_PODS, WEBHOOK_PODS, an_mcp_service_comes_back_patched, namespace, pods
from .rolling import ROLLOUT_TIMEOUT, pod_names, rolled_under_stream

pytestmark = [pytest.mark.cluster, pytest.mark.node]

WEBHOOK_CONFIGS = ("mutatingwebhookconfigurations", "validatingwebhookconfigurations")
LEASE = ("lease", "mcp-admission-reconciler", NS)
LOCAL_IMAGE = "localhost/mcp-admission-pause:1"  # on the node already: a StatefulSet pulls nothing


def local_statefulset(name: str) -> dict[str, Any]:
    """ToolHive's backend StatefulSet, but running an image the node has (nothing leaves the machine)."""
    obj = statefulset(name, transport="streamable-http")
    (container,) = obj["spec"]["template"]["spec"]["containers"]
    container |= {"image": LOCAL_IMAGE, "imagePullPolicy": "Never"}
    return obj


def services_of(kubectl: Kubectl, ns: str, name: str) -> set[str]:
    wanted = {f"mcp-{name}", f"mcp-{name}-headless"}
    out = kubectl("-n", ns, "get", "services", "-o", "json").stdout
    return wanted & {s["metadata"]["name"] for s in json.loads(out)["items"]}


def test_both_deployments_roll_out_and_the_init_container_made_the_certificates(installed: Kubectl) -> None:
    kubectl = installed
    for name in ("mcp-admission-webhook", "mcp-admission-reconciler"):
        deployment = kubectl.get("deployment", name, NS)
        assert deployment is not None
        assert deployment["status"].get("availableReplicas") == 2, (name, deployment["status"], pods(kubectl))
    tls = kubectl.get("secret", "mcp-admission-tls", NS)
    ca = kubectl.get("secret", "mcp-admission-ca", NS)
    assert tls is not None and ca is not None, pods(kubectl)
    for kind in WEBHOOK_CONFIGS:
        config = kubectl.get(kind, "mcp-admission")
        assert config is not None
        assert {w["clientConfig"]["caBundle"] for w in config["webhooks"]} == {tls["data"]["ca.crt"]}, kind
        assert all(w["clientConfig"]["service"]["name"] == "mcp-admission" for w in config["webhooks"])
    # Every write names its writer: the Secrets and caBundles are the certificates part's.
    for obj in (tls, ca, *(kubectl.get(kind, "mcp-admission") for kind in WEBHOOK_CONFIGS)):
        assert obj is not None
        managers = {entry["manager"] for entry in obj["metadata"]["managedFields"]}
        assert "OpenAPI-Generator" not in managers and "mcp-admission-certs" in managers, managers
    # The init container ran in every webhook pod and logged what it did, as JSON like the servers.
    for pod in pod_names(kubectl, NS, WEBHOOK_PODS):
        logs = kubectl("-n", NS, "logs", pod, "-c", "certs").stdout.splitlines()
        assert logs and all(json.loads(line)["level"] for line in logs), logs


def test_the_apiserver_reaches_the_webhook_through_its_service(installed: Kubectl) -> None:
    kubectl = installed
    ns = namespace(kubectl, "svc")
    an_mcp_service_comes_back_patched(kubectl, ns)

    applied = kubectl(
        "-n", ns, "apply", "-f", "-", stdin=dump([mcpserver("files", transport="stdio", replicas=3)])
    )
    assert any("stdio-replicas" in w for w in policy_warnings(applied.stderr)), applied.stderr
    server = kubectl.get("mcpserver", "files", ns)
    assert server is not None and server["spec"]["replicas"] == 1


def test_the_leader_creates_services_and_the_lease_moves_when_it_is_deleted(installed: Kubectl) -> None:
    kubectl = installed
    ns = namespace(kubectl, "leader")
    kubectl("-n", ns, "apply", "-f", "-", stdin=dump([local_statefulset("first")]))
    eventually(lambda: services_of(kubectl, ns, "first") == {"mcp-first", "mcp-first-headless"},
               "the leader to create the first StatefulSet's Services", timeout=60)  # fmt: skip

    lease = kubectl.get(*LEASE)
    assert lease is not None
    holder = lease["spec"]["holderIdentity"]
    (leader,) = [p for p in pod_names(kubectl, NS, RECONCILER_PODS) if holder.startswith(f"{p}_")]
    (standby,) = [p for p in pod_names(kubectl, NS, RECONCILER_PODS) if p != leader]
    said = kubectl("-n", NS, "logs", standby).stdout
    assert f"is held by {holder}" in said, f"the standby does not say who holds the Lease:\n{said}"
    kubectl("-n", NS, "delete", "pod", leader, "--wait=false")

    def new_holder() -> str | None:
        now: str | None = (kubectl.get(*LEASE) or {}).get("spec", {}).get("holderIdentity")
        return now if now and now != holder else None

    moved = eventually(new_holder, "the Lease to move to the other reconciler", timeout=60)
    assert not moved.startswith(f"{leader}_")

    kubectl("-n", ns, "apply", "-f", "-", stdin=dump([local_statefulset("second")]))
    eventually(lambda: services_of(kubectl, ns, "second") == {"mcp-second", "mcp-second-headless"},
               "the new leader to create the next StatefulSet's Services", timeout=60)  # fmt: skip
    kubectl(
        "-n", NS, "rollout", "status", "deployment/mcp-admission-reconciler", f"--timeout={ROLLOUT_TIMEOUT}s"
    )


def unhealthy_events(kubectl: Kubectl) -> list[str]:
    """The kubelet's probe failures of webhook pods ('Unhealthy' events), as 'pod: message'."""
    out = kubectl("-n", NS, "get", "events", "--field-selector", "reason=Unhealthy", "-o", "json").stdout
    return [
        f"{e['involvedObject']['name']}: {e['message']} (x{e.get('count', 1)})"
        for e in json.loads(out)["items"]
        if e["involvedObject"]["name"].startswith("mcp-admission-webhook-")
    ]


def test_a_rolling_restart_of_the_webhook_admits_nothing_unpatched(
    installed: Kubectl, node_plane: ControlPlane
) -> None:
    kubectl = installed
    ns = namespace(kubectl, "rollout")
    restart = ("-n", NS, "rollout", "restart", "deployment/mcp-admission-webhook")
    rolled = rolled_under_stream(node_plane.env, ns, kubectl, NS, "mcp-admission-webhook", WEBHOOK_PODS,
                                 start=lambda: kubectl(*restart))  # fmt: skip
    tally = rolled.tally
    print(f"rolling restart of the webhook: {tally.line()}")
    # An old pod fails its probes between SIGTERM and its exit (503 while it drains, refused after):
    # expected, see deploy/README.md. A new pod must never fail one.
    unhealthy = unhealthy_events(kubectl)
    print(f"Unhealthy events of webhook pods: {unhealthy}")
    assert all(event.split(":", 1)[0] in rolled.old for event in unhealthy), unhealthy
    assert tally.unpatched == 0, f"{tally.line()}; unpatched at {tally.unpatched_at} s\n{pods(kubectl)}"
    assert not tally.errors, tally.line()
    assert tally.patched >= 100, f"too few requests to say anything: {tally.line()}"


def test_nothing_leaves_the_machine(installed: Kubectl) -> None:
    """Pods have routes to their subnet and the service CIDR only; on the host the service CIDR is a
    blackhole (there is no kube-proxy), but for the `kubernetes` Service's IP on the node's bridge."""
    (pod, *_) = pod_names(installed, NS, WEBHOOK_PODS)
    routes = installed("-n", NS, "exec", pod, "-c", "webhook", "--", "cat", "/proc/net/route").stdout
    destinations = {line.split()[1] for line in routes.splitlines()[1:]}
    assert "00000000" not in destinations, f"a default route in the pod:\n{routes}"
    host = subprocess.run(["ip", "route", "show", "type", "blackhole"], capture_output=True, text=True)
    assert "blackhole 10.96.0.0/16" in host.stdout, host.stdout
    local = subprocess.run(["ip", "route", "get", "10.96.0.1"], capture_output=True, text=True)
    assert local.stdout.startswith("local 10.96.0.1"), local.stdout
