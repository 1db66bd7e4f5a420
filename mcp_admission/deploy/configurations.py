"""Both webhook configurations for a configuration file: what `mcp-admission webhooks` prints and
deploy/components/{webhooks,legacy} ship (tests/deploy holds the shipped files to this rendering).

- modern (the default; Kubernetes 1.30+): matchConditions send only the writes the engine decides
  (mcp_admission.deploy.conditions); namespaces are left out by name.
- legacy (1.20-1.29): no matchConditions, so every write of the kinds the rules name is sent and the
  webhook answers the rest with a cheap "allowed"; namespaces are also left out by an opt-out label,
  which on 1.20 (no kubernetes.io/metadata.name label) the legacy install puts on them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import yaml

from mcp_admission.deploy.conditions import match_conditions
from mcp_admission.policies import (
    ALL_POLICIES,
    API_RESOURCES,
    MAX_OWNER_REFERENCES,
    MAX_SKIP_LENGTH,
    Phase,
    PolicyConfig,
)

Obj = dict[str, Any]

OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set by the apiserver on every namespace, 1.21+
OPT_OUT_LABEL = "mcp-admission.io/ignore"  # legacy: a namespace labelled "true" is never sent
HOOK_NAMES = {Phase.MUTATE: "mutate.mcp-admission.io", Phase.VALIDATE: "validate.mcp-admission.io"}
KINDS = {Phase.MUTATE: "MutatingWebhookConfiguration", Phase.VALIDATE: "ValidatingWebhookConfiguration"}
LABELS = {"app.kubernetes.io/name": "mcp-admission", "app.kubernetes.io/component": "webhook"}


class Names(NamedTuple):
    """The webhook's Service and the configurations' names: the configuration file's `certs:` section
    names the same (the certificate is for that Service; the caBundle goes into those two)."""

    service: str = "mcp-admission"
    namespace: str = "mcp-admission"
    mutating: str = "mcp-admission"
    validating: str = "mcp-admission"


def kinds_of(phase: Phase) -> dict[str, frozenset[str]]:
    """Workload kind → the operations a registered policy of `phase` acts on."""
    kinds: dict[str, frozenset[str]] = {}
    for policy in ALL_POLICIES:
        if policy.phase is phase:
            for kind in policy.kinds:
                if kind not in API_RESOURCES:
                    raise ValueError(
                        f"policy {policy.id} reads {kind}, which has no resource in API_RESOURCES"
                    )
                kinds[kind] = kinds.get(kind, frozenset()) | policy.operations
    return kinds


def rules(kinds: dict[str, frozenset[str]]) -> list[Obj]:
    """One rule per group, versions and operations; subresources (scale, status) are never named."""
    grouped: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for kind, (group, versions, resource) in API_RESOURCES.items():
        if kind in kinds:
            operations = tuple(op for op in OPERATIONS if op in kinds[kind])
            grouped.setdefault((group, versions, operations), []).append(resource)
    return [
        {
            "apiGroups": [group],
            "apiVersions": list(versions),
            "resources": resources,
            "operations": list(operations),
            "scope": "Namespaced",
        }
        for (group, versions, operations), resources in grouped.items()
    ]


def namespace_selector(config: PolicyConfig, legacy: bool) -> Obj:
    expressions: list[Obj] = []
    if legacy:
        expressions.append({"key": OPT_OUT_LABEL, "operator": "NotIn", "values": ["true"]})
    if config.excluded_namespaces:
        values = sorted(config.excluded_namespaces)
        expressions.append({"key": NAMESPACE_NAME_LABEL, "operator": "NotIn", "values": values})
    return {"matchExpressions": expressions} if expressions else {}


def _configuration(phase: Phase, config: PolicyConfig, names: Names, legacy: bool) -> Obj:
    kinds = kinds_of(phase)
    hook: Obj = {
        "name": HOOK_NAMES[phase],
        "admissionReviewVersions": ["v1"],
        "clientConfig": {
            "service": {
                "name": names.service,
                "namespace": names.namespace,
                "path": phase.path,
                "port": 443,
            }
        },
        "failurePolicy": "Ignore",
        "matchPolicy": "Equivalent",
        "timeoutSeconds": 5,
        "sideEffects": "None",
    }
    if phase is Phase.MUTATE:
        hook["reinvocationPolicy"] = "IfNeeded"
    hook["namespaceSelector"] = namespace_selector(config, legacy)
    hook["rules"] = rules(kinds)
    if not legacy:
        hook["matchConditions"] = match_conditions(config, kinds)
    name = names.mutating if phase is Phase.MUTATE else names.validating
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": KINDS[phase],
        "metadata": {"name": name, "labels": dict(LABELS)},
        "webhooks": [hook],
    }


SHIPPED_NAMES = Names()  # deploy/'s, and the configuration file's defaults


def webhook_configurations(
    config: PolicyConfig, names: Names = SHIPPED_NAMES, legacy: bool = False
) -> list[Obj]:
    """The MutatingWebhookConfiguration and the ValidatingWebhookConfiguration, as objects."""
    return [_configuration(phase, config, names, legacy) for phase in (Phase.MUTATE, Phase.VALIDATE)]


_WHY = """\
{title}
# Generated by `mcp-admission webhooks{flag}` from a configuration file's `workloads` and
# `excludedNamespaces` and from the registered policies: do not edit; after changing those, render again.
# Every choice here decides what happens to a whole cluster's `kubectl apply`, so each is explained.
#
# rules: exactly the resources the registered policies read (POLICY.kinds, POLICY.phase), CREATE and
# UPDATE. Subresources (statefulsets/scale, */status) are not matched: `kubectl scale` is the
# reconciler's job.
#
{what}
#
# failurePolicy Ignore, deliberately: every mutation is a default that can be added later (the
# reconciler repairs Services and stdio replicas on its own; `mcp-admission check` catches the rest in
# CI), and in the default `warn` mode the validating policies only warn. With Fail, a webhook outage -- or
# a bad certificate -- would block writes across the cluster. The price: while the webhook is down, MCP
# objects are admitted unpatched. Running policies in `enforce` mode and needing the guarantee? Patch
# the ValidatingWebhookConfiguration to Fail, and accept that MCP resources cannot be written meanwhile.
# timeoutSeconds 5 (half the default): the webhook answers in about a millisecond; this bounds the cost
# of a hung webhook without failing on a slow TLS handshake under load.
# reinvocationPolicy IfNeeded: another mutating webhook may change the object after us; every mutation
# is idempotent. caBundle: injected by the product (`mcp-admission certs`) or by cert-manager.
"""
_MODERN_TITLE = """\
# The admission webhooks, for Kubernetes 1.30 and newer (matchConditions, GA there). 1.20-1.29: --legacy."""
_MODERN = f"""\
# matchConditions: the apiserver sends a write only when the engine would decide it -- the object is an
# MCP workload by the engine's own rules (docs/policies.md, "Which objects are MCP workloads": ToolHive's
# resources; Services, StatefulSets and Deployments with ToolHive's labels, the opt-in label or a
# configured selector; Services owned by a ToolHive resource, or named mcp-X or mcp-X-headless and owned
# by StatefulSet X) and has not opted out of every policy with mcp-admission.io/skip-policies: "*".
# Every other write never leaves the apiserver. Each expression guards every field it reads, so none can
# fail (a failing one would leave the request to failurePolicy), and no object can make one expensive:
# labels are read by key, the opt-out annotation is one RE2 match on at most {MAX_SKIP_LENGTH} characters,
# the one loop is over at most {MAX_OWNER_REFERENCES} ownerReferences. The validating webhook is sent
# ToolHive's resources only, which its rules say alone.
#
# namespaceSelector: excludedNamespaces, by the kubernetes.io/metadata.name label the apiserver puts on
# every namespace. Nothing is written to any namespace, kube-system included. To leave a namespace out,
# add it to excludedNamespaces (the engine then skips it too) and render this again."""
_LEGACY_TITLE = """\
# The admission webhooks, for Kubernetes 1.20-1.29 (no matchConditions). From 1.30: without --legacy."""
_LEGACY = """\
# Every write of the kinds the rules name is sent; the webhook answers those that are not MCP workloads
# with a cheap "allowed, no patch". No objectSelector: ToolHive's custom resources carry no labels, and
# which Services and StatefulSets are MCP workloads also depends on ownerReferences and on the
# configured selectors, which a label selector cannot express.
#
# namespaceSelector: both expressions must hold. excludedNamespaces are out by name where the apiserver
# sets kubernetes.io/metadata.name (1.21+), and by the opt-out label, which the legacy install puts on
# kube-system and mcp-admission for 1.20. Any namespace can opt out with
#   kubectl label namespace NAME mcp-admission.io/ignore=true"""


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the CEL) as literal blocks; lists of plain scalars on one line."""


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


def _list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(isinstance(item, (str, int)) and "\n" not in str(item) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(list, _list)


def render(config: PolicyConfig, names: Names = SHIPPED_NAMES, legacy: bool = False) -> str:
    """Both configurations as YAML, after a comment that says why each choice is made."""
    header = _WHY.format(
        title=_LEGACY_TITLE if legacy else _MODERN_TITLE,
        flag=" --legacy" if legacy else "",
        what=_LEGACY if legacy else _MODERN,
    )
    return header + to_yaml(webhook_configurations(config, names, legacy))


def to_yaml(objects: list[Obj]) -> str:
    """Objects as one YAML stream, CEL as literal blocks, keys in the order they were built."""
    return yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
