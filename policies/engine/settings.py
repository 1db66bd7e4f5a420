"""What every policy can be told (its mode), which objects are MCP workloads, and what ToolHive's
operator does that its resources do not say.

Records (mcp_admission.records): plain frozen dataclasses, validated once at the edge (the configuration
file); the engine only reads attributes. A policy with parameters of its own declares their record in its
own file (a PolicySettings subclass).
"""

from __future__ import annotations

from dataclasses import field
from enum import StrEnum
from typing import Annotated, Literal

from mcp_admission.names import check_label_key
from mcp_admission.records import Check, record

LabelKey = Annotated[str, Check(check_label_key)]


class Mode(StrEnum):
    OFF = "off"
    WARN = "warn"  # apply fixes and warn (the safe default: never blocks an apply)
    ENFORCE = "enforce"  # apply fixes and deny what no fix can correct


@record
class PolicySettings:
    mode: Mode = Mode.WARN


@record
class LabelSelectorRequirement:
    key: LabelKey
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs values")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values")


@record
class WorkloadSelector:
    """Marks more objects as MCP workloads: every given condition must hold (as in a LabelSelector)."""

    kinds: tuple[str, ...] = ()  # empty: any kind the policies know (Service, StatefulSet, Deployment)
    namespaces: tuple[str, ...] = ()  # empty: any namespace
    match_labels: dict[LabelKey, str] = field(default_factory=dict)
    match_expressions: tuple[LabelSelectorRequirement, ...] = ()
    transport: Literal["stdio", "sse", "streamable-http"] | None = None

    def __post_init__(self) -> None:
        if not (self.match_labels or self.match_expressions or self.namespaces):
            raise ValueError("a selector needs matchLabels, matchExpressions or namespaces")


@record
class WorkloadSettings:
    opt_in_label: LabelKey = "mcp-admission.io/workload"  # value "true" marks an MCP workload
    selectors: tuple[WorkloadSelector, ...] = ()


@record
class ToolHiveSettings:
    """What ToolHive's operator does that its resources' manifests do not say."""

    # Where the operator keeps the sessions of a resource without spec.sessionStorage: redis when it
    # has a default Redis (TOOLHIVE_DEFAULT_REDIS_ADDR, Helm operator.defaultRedis.addr), else memory.
    default_session_storage: Literal["memory", "redis"] = "memory"
