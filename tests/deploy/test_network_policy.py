"""deploy/components/network-policy rendered by `kubectl kustomize` into an overlay as a user writes one:
the values they set reach the policies, which select the pods and name the ports the Deployments have."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.harness import DEPLOY, RENDER_KUBECTL, find

Obj = dict[str, Any]


def render(tmp_path: Path, patches: str = "") -> list[Obj]:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources: [{os.path.relpath(DEPLOY / 'overlays' / 'default', overlay)}]\n"
        f"components: [{os.path.relpath(DEPLOY / 'components' / 'network-policy', overlay)}]\n" + patches
    )
    proc = subprocess.run(
        [RENDER_KUBECTL, "kustomize", str(overlay)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


# As deploy/components/network-policy/kustomization.yaml tells a user to set the two values.
NAMESPACE = "/spec/ingress/{}/from/0/namespaceSelector/matchLabels/kubernetes.io~1metadata.name"
SET_VALUES = f"""patches:
  - target: {{kind: NetworkPolicy, name: mcp-admission-webhook}}
    patch: |-
      - {{op: replace, path: /spec/ingress/0/from/0/ipBlock/cidr, value: 10.96.0.0/24}}
      - {{op: replace, path: {NAMESPACE.format(1)}, value: observability}}
  - target: {{kind: NetworkPolicy, name: mcp-admission-reconciler}}
    patch: |-
      - {{op: replace, path: {NAMESPACE.format(0)}, value: observability}}
"""


def pods(objs: list[Obj], component: str) -> Obj:
    (deployment,) = [
        d
        for d in find(objs, "Deployment")
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    pod: Obj = deployment["spec"]["template"]
    return pod


def test_the_values_set_in_an_overlay_reach_both_policies(tmp_path: Path) -> None:
    objs = render(tmp_path, SET_VALUES)
    (webhook,) = find(objs, "NetworkPolicy", "mcp-admission-webhook")
    (reconciler,) = find(objs, "NetworkPolicy", "mcp-admission-reconciler")
    admission, metrics = webhook["spec"]["ingress"]
    assert admission == {
        "from": [{"ipBlock": {"cidr": "10.96.0.0/24"}}],
        "ports": [{"port": "https", "protocol": "TCP"}],
    }
    scrapers = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}}}]
    assert metrics == {"from": scrapers, "ports": [{"port": "metrics", "protocol": "TCP"}]}
    assert reconciler["spec"]["ingress"] == [metrics]
    # Only ingress is restricted: the webhook's certificate manager and the reconciler call the apiserver.
    assert webhook["spec"]["policyTypes"] == reconciler["spec"]["policyTypes"] == ["Ingress"]
    assert not [o for o in objs if o["metadata"]["name"] == "mcp-admission-network"], (
        "a local value was applied"
    )


def test_the_policies_select_the_pods_and_name_their_ports(tmp_path: Path) -> None:
    objs = render(tmp_path)
    for component in ("webhook", "reconciler"):
        (policy,) = find(objs, "NetworkPolicy", f"mcp-admission-{component}")
        pod = pods(objs, component)
        assert policy["metadata"]["namespace"] == "mcp-admission"
        assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
        (container,) = pod["spec"]["containers"]
        names = {port["name"] for port in container["ports"]}
        assert {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]} <= names
    # Unset, the control plane's address is left open rather than guessed: a wrong one would block the
    # apiserver, and with failurePolicy Ignore that skips the policies silently.
    (webhook,) = find(objs, "NetworkPolicy", "mcp-admission-webhook")
    assert webhook["spec"]["ingress"][0]["from"] == [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
