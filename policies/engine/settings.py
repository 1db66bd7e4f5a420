"""What every policy can be told (its mode), and which objects are MCP workloads.

Validated once at the edge (the configuration file) by pydantic; the engine then only reads attributes.
A policy with parameters of its own declares their model in its own file (a PolicySettings subclass).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator, model_validator

from mcp_admission.models import Model, check_label_key


class Mode(StrEnum):
    OFF = "off"
    WARN = "warn"  # apply fixes and warn (the safe default: never blocks an apply)
    ENFORCE = "enforce"  # apply fixes and deny what no fix can correct


class PolicySettings(Model):
    mode: Mode = Mode.WARN


class LabelSelectorRequirement(Model):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: tuple[str, ...] = ()

    _key = field_validator("key")(classmethod(lambda cls, v: check_label_key(v)))

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
            check_label_key(key)
        return value

    @model_validator(mode="after")
    def _selects_something(self) -> WorkloadSelector:
        if not (self.match_labels or self.match_expressions or self.namespaces):
            raise ValueError("a selector needs matchLabels, matchExpressions or namespaces")
        return self


class WorkloadSettings(Model):
    opt_in_label: str = "mcp-admission.io/workload"  # value "true" marks an MCP workload
    selectors: tuple[WorkloadSelector, ...] = ()

    _key = field_validator("opt_in_label")(classmethod(lambda cls, v: check_label_key(v)))
