"""The `reconciler:` section of the configuration file."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from mcp_admission.models import Model

Seconds = Annotated[float, Field(gt=0)]


class ReconcilerSettings(Model):
    namespaces: tuple[str, ...] = ()  # empty: all namespaces (excluded ones are still left alone)
    resync_seconds: Seconds = 600  # every StatefulSet is reconciled again this often
    workers: Annotated[int, Field(ge=1, le=64)] = 12  # applies are latency-bound: see bench/reconciler
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = 8081  # 0: no metrics endpoint
    metrics_address: str = "0.0.0.0"  # all interfaces, for Prometheus in a Pod
    leader_elect: bool = True
    lease_name: str = "mcp-admission-reconciler"
    lease_namespace: str = "mcp-admission"
    # client-go's defaults: a leader that stops renewing is replaced within ~15 s.
    lease_duration_seconds: Annotated[int, Field(ge=2)] = 15
    renew_deadline_seconds: Seconds = 10
    retry_period_seconds: Seconds = 2

    @model_validator(mode="after")
    def _timing_fits(self) -> ReconcilerSettings:
        if not self.retry_period_seconds < self.renew_deadline_seconds < self.lease_duration_seconds:
            raise ValueError("need retryPeriodSeconds < renewDeadlineSeconds < leaseDurationSeconds")
        return self
