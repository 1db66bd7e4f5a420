"""What the policies can be told: modes, parameters, which objects are MCP workloads.

Validated once at the edge (configuration file) by pydantic; the engine then only reads attributes.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

# Kubernetes name rules (apimachinery validation): Service names are DNS-1035 labels.
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def is_dns1035_label(value: str) -> bool:
    return len(value) <= 63 and DNS1035_LABEL.fullmatch(value) is not None


def _check_label_key(key: str) -> str:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix)):
        raise ValueError(f"{key!r}: prefix must be a DNS subdomain")
    if len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        raise ValueError(f"{key!r}: not a valid label key")
    return key


class Mode(StrEnum):
    OFF = "off"
    WARN = "warn"  # apply fixes and warn (the safe default: never blocks an apply)
    ENFORCE = "enforce"  # apply fixes and deny what no fix can correct


class Model(BaseModel):
    """Base of every configuration model: unknown keys are errors, camelCase keys, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)


class PolicySettings(Model):
    mode: Mode = Mode.WARN


class SessionAffinitySettings(PolicySettings):
    # ToolHive's own sticky Service uses 1800 s; the apiserver's default for ClientIP is 10800 s.
    timeout_seconds: Annotated[int, Field(gt=0, le=86400)] = 1800


class StatefulSetDNSSettings(PolicySettings):
    service_name_pattern: str = "mcp-{name}-headless"

    @field_validator("service_name_pattern")
    @classmethod
    def _pattern_makes_service_names(cls, value: str) -> str:
        if value.count("{name}") != 1 or "{" in value.replace("{name}", ""):
            raise ValueError("must contain '{name}' exactly once and no other '{...}'")
        if not is_dns1035_label(value.replace("{name}", "x")):
            raise ValueError("must give a valid Service name (DNS-1035 label) for a name like 'x'")
        return value


class PolicyModes(Model):
    session_affinity: SessionAffinitySettings = Field(
        default_factory=SessionAffinitySettings, alias="session-affinity"
    )
    statefulset_dns: StatefulSetDNSSettings = Field(
        default_factory=StatefulSetDNSSettings, alias="statefulset-dns"
    )
    stdio_replicas: PolicySettings = Field(default_factory=PolicySettings, alias="stdio-replicas")
    session_storage: PolicySettings = Field(default_factory=PolicySettings, alias="session-storage")
    affinity_with_redis: PolicySettings = Field(default_factory=PolicySettings, alias="affinity-with-redis")


class LabelSelectorRequirement(Model):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: tuple[str, ...] = ()

    _key = field_validator("key")(classmethod(lambda cls, v: _check_label_key(v)))

    @model_validator(mode="after")
    def _values_fit_operator(self) -> LabelSelectorRequirement:
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs values")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values")
        return self


class WorkloadSelector(Model):
    """Marks more objects as MCP workloads: every given condition must hold (as in a LabelSelector)."""

    kinds: tuple[str, ...] = ()  # empty: any kind the policies know (Service, StatefulSet, Deployment)
    namespaces: tuple[str, ...] = ()  # empty: any namespace
    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: tuple[LabelSelectorRequirement, ...] = ()
    transport: Literal["stdio", "sse", "streamable-http"] | None = None

    @field_validator("match_labels")
    @classmethod
    def _label_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            _check_label_key(key)
        return value

    @model_validator(mode="after")
    def _selects_something(self) -> WorkloadSelector:
        if not (self.match_labels or self.match_expressions or self.namespaces):
            raise ValueError("a selector needs matchLabels, matchExpressions or namespaces")
        return self


class WorkloadSettings(Model):
    opt_in_label: str = "mcp-admission.io/workload"  # value "true" marks an MCP workload
    selectors: tuple[WorkloadSelector, ...] = ()

    _key = field_validator("opt_in_label")(classmethod(lambda cls, v: _check_label_key(v)))


class PolicyConfig(Model):
    """Everything the engine reads. The configuration file is a superset (see mcp_admission.config)."""

    policies: PolicyModes = Field(default_factory=PolicyModes)
    workloads: WorkloadSettings = Field(default_factory=WorkloadSettings)
    excluded_namespaces: frozenset[str] = frozenset({"kube-system"})

    @cached_property
    def modes(self) -> dict[str, Mode]:
        """Policy ID → mode, for the engine's loop."""
        return {
            alias: getattr(self.policies, name).mode
            for name, alias in ((name, info.alias) for name, info in PolicyModes.model_fields.items())
            if alias is not None
        }
