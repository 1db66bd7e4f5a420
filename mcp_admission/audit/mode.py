"""Which admission a cluster runs for mcp-admission: its webhook configurations (deploy/overlays/default,
legacy, cert-manager), its admission policies (deploy/overlays/admission-policies, 1.36+), both, or
neither. Read by the label every shipped one carries, one small list per kind; a kind the apiserver does
not serve (MutatingAdmissionPolicy v1 before 1.36) counts as none, one the caller may not list is said so.
"""

from __future__ import annotations

from mcp_admission.kube import Kube, KubeError

LABEL = "app.kubernetes.io/name=mcp-admission"
GROUP = "apis/admissionregistration.k8s.io/v1"
KINDS = {
    "webhook configurations": ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"),
    "admission policies": ("mutatingadmissionpolicies", "validatingadmissionpolicies"),
}


def admission_mode(kube: Kube) -> str:
    """One line: what admits MCP workloads in this cluster (or why that cannot be told)."""
    found: dict[str, int] = {}
    unreadable: list[str] = []
    for what, resources in KINDS.items():
        found[what] = 0
        for resource in resources:
            try:
                listed = kube.get(f"/{GROUP}/{resource}", [("labelSelector", LABEL)])
            except KubeError as exc:
                unreadable.append(f"{resource} ({'forbidden' if exc.status == 403 else exc})")
                continue
            found[what] += len((listed or {}).get("items") or [])
    webhooks, policies = found["webhook configurations"], found["admission policies"]
    if webhooks and policies:
        mode = (
            f"both its webhook configurations ({webhooks}) and its admission policies ({policies}):"
            " every write is fixed and warned about twice; uninstall one"
        )
    elif webhooks:
        mode = f"its webhook configurations ({webhooks}): the webhook pods fix and warn"
    elif policies:
        mode = f"its admission policies ({policies}): the apiserver fixes (silently) and warns"
    else:
        mode = "nothing of mcp-admission's found: no write is fixed at admission"
    if unreadable:
        mode += f"; could not list {', '.join(unreadable)}"
    return f"admission: {mode}"
