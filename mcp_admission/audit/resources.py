"""Which API resources the audit lists: the kinds the registered policies read, each at one version.

Built-in kinds are served at a fixed GA version. ToolHive's come from API discovery, which every
authenticated user may read (no RBAC needed): each kind once, at the group's preferred version when the
engine knows it, else v1beta1, else v1alpha1 (both versions serve the same stored objects, so reading
both would report each object twice). An absent group (no CRDs) or version is skipped quietly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mcp_admission.kube import Kube
from mcp_admission.policies import (
    API_RESOURCES,
    MCP_RESOURCE_KINDS,
    TOOLHIVE_GROUP,
    TOOLHIVE_VERSIONS,
    Policy,
)


@dataclass(frozen=True, slots=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def name(self) -> str:
        """As kubectl and RBAC messages name it: `services`, `statefulsets.apps`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None) -> str:
        """The list's apiserver path: in one namespace, or in all of them (None)."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        return f"{base}/namespaces/{namespace}/{self.plural}" if namespace else f"{base}/{self.plural}"


# Every built-in kind the engine recognises as a workload (CORE_KINDS), in reading order.
BUILT_IN = {
    kind: Resource(api.group, api.versions[-1], kind, api.resource)
    for kind, api in API_RESOURCES.items()
    if api.group != TOOLHIVE_GROUP
}


def policy_kinds(policies: Sequence[Policy[Any]]) -> frozenset[str]:
    """The kinds some registered policy reads: nothing else can have a finding."""
    return frozenset(kind for policy in policies for kind in policy.kinds)


def toolhive_resources(kube: Kube, kinds: Iterable[str]) -> list[Resource]:
    """ToolHive's resources of `kinds` the cluster serves, by kind name; none without the CRDs."""
    wanted = set(kinds) & MCP_RESOURCE_KINDS
    group = kube.get(f"/apis/{TOOLHIVE_GROUP}") if wanted else None
    if group is None:
        return []
    preferred = (group.get("preferredVersion") or {}).get("version")
    served = {v.get("version") for v in group.get("versions") or []} & TOOLHIVE_VERSIONS
    found: dict[str, Resource] = {}
    for version in sorted(served, key=lambda v: (v != preferred, v != "v1beta1")):
        listing = kube.get(f"/apis/{TOOLHIVE_GROUP}/{version}")
        for entry in (listing or {}).get("resources") or []:
            kind, plural = entry.get("kind"), entry.get("name", "")
            listable = "/" not in plural and "list" in entry.get("verbs", [])  # not a subresource
            if kind in wanted and kind not in found and listable:
                found[kind] = Resource(TOOLHIVE_GROUP, version, kind, plural)
    return [found[kind] for kind in sorted(found)]


def to_read(kube: Kube, kinds: frozenset[str]) -> list[Resource]:
    """What the audit lists for `kinds`: built-in kinds first, then ToolHive's (tests/audit checks that
    these two cover every kind a policy reads)."""
    return [r for kind, r in BUILT_IN.items() if kind in kinds] + toolhive_resources(kube, kinds)
