"""Each manifest through the engine as the apiserver would send it: defaulted, then admitted.

A manifest is a CREATE; with a previous version of it (from --old) it is an UPDATE whose old object
is defaulted the same way. The namespace is the object's own, else the default one, like kubectl.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from mcp_admission.policies import JSON, Decision, Operation, PolicyConfig, Request, admit
from mcp_admission.report.result import Identity, Key, Location, Result

from .defaults import with_server_defaults
from .loader import Manifest

# Cluster-scoped kinds common in manifests: kubectl gives them no namespace, and neither do we.
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "StorageClass",
        "PriorityClass",
        "IngressClass",
        "RuntimeClass",
        "APIService",
    }
)


class Checked(NamedTuple):  # a NamedTuple: see loader.py
    """A manifest checked: what the report says of it, and what --write-mutated needs besides."""

    manifest: Manifest
    result: Result
    mutated: JSON  # the object as the webhooks would leave it (the defaulted input when not patched)

    @property
    def decision(self) -> Decision:
        return self.result.decision

    @property
    def identity(self) -> Identity:
        return self.result.identity


def identify(obj: dict[str, Any], default_namespace: str) -> Identity:
    kind: str = obj["kind"]
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    namespace = metadata.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        namespace = "" if kind in CLUSTER_SCOPED else default_namespace
    name = metadata.get("name")  # "" for generateName, as in the AdmissionRequest
    return Identity(obj["apiVersion"], kind, namespace, name if isinstance(name, str) else "")


def previous_versions(manifests: Iterable[Manifest], default_namespace: str) -> dict[Key, JSON]:
    """--old objects by key; a later one with the same key replaces an earlier one."""
    return {identify(m.object, default_namespace).key: m.object for m in manifests}


def check(manifest: Manifest, old: dict[Key, JSON], config: PolicyConfig, default_namespace: str) -> Checked:
    ident = identify(manifest.object, default_namespace)
    obj = with_server_defaults(ident.group, ident.kind, manifest.object)
    previous = old.get(ident.key)
    operation = Operation.CREATE if previous is None else Operation.UPDATE
    old_object = None if previous is None else with_server_defaults(ident.group, ident.kind, previous)
    request = Request(
        ident.group, ident.version, ident.kind, operation, ident.namespace, ident.name, obj, old_object
    )
    decision, mutated = admit(request, config)
    location = Location(manifest.source.name, manifest.line)
    return Checked(manifest, Result(location, ident, operation, decision), mutated)
