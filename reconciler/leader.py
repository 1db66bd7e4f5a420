"""Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it.

A candidate takes the Lease when it is free or its holder stopped renewing for leaseDurationSeconds,
measured on our own clock from when we last saw the record change (no trust in other clocks). Writes
carry the resourceVersion, so two candidates never both win. On stop the leader releases the Lease
(empty holder) and a standby takes over at its next retry instead of waiting for expiry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from mcp_admission.kube import Kube, KubeError
from mcp_admission.logs import ObjectLog
from mcp_admission.reconciler.settings import ReconcilerSettings

log = logging.getLogger(__name__)


def _micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self, kube: Kube, settings: ReconcilerSettings, identity: str, on_leader: Callable[[bool], None]
    ) -> None:
        self.identity = identity
        self._kube = kube
        self._settings = settings
        self._path = f"/apis/coordination.k8s.io/v1/namespaces/{settings.lease_namespace}/leases"
        self._on_leader = on_leader
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self._reported_holder = ""  # said once per holder: a silent standby looks like a hung one
        self._log = ObjectLog(log, "Lease", settings.lease_namespace, settings.lease_name)

    def _lease(self, holder: str, acquired: str, transitions: int) -> dict[str, Any]:
        return {
            "holderIdentity": holder,
            "leaseDurationSeconds": self._settings.lease_duration_seconds,
            "acquireTime": acquired,
            "renewTime": _micro_time(),
            "leaseTransitions": transitions,
        }

    def try_acquire_or_renew(self) -> bool:
        """One attempt; True when we hold the Lease afterwards."""
        # The whole attempt, read and write, fits in renewDeadlineSeconds: a hung GET must not keep us
        # "leading" past the lease's duration while a standby takes over.
        budget = self._settings.renew_deadline_seconds
        deadline = time.monotonic() + budget
        name = self._settings.lease_name
        current = self._kube.get(f"{self._path}/{name}", timeout=budget)
        if current is None:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": name, "namespace": self._settings.lease_namespace},
                "spec": self._lease(self.identity, _micro_time(), 0),
            }
            return self._write("POST", self._path, body, deadline)
        spec = current.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        record = (holder, spec.get("renewTime"), spec.get("leaseDurationSeconds"))
        now = time.monotonic()
        if record != self._observed:
            self._observed, self._observed_at = record, now
        held_by_other = holder and holder != self.identity
        if held_by_other and holder != self._reported_holder:
            self._reported_holder = holder
            self._log.info(
                "standing by: the lease is held by %s", holder, extra={"fields": {"holder": holder}}
            )
        duration = spec.get("leaseDurationSeconds") or self._settings.lease_duration_seconds
        if held_by_other and now < self._observed_at + duration:
            return False
        ours = holder == self.identity
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if ours else 1)
        acquired = str(spec.get("acquireTime") or _micro_time()) if ours else _micro_time()
        current["spec"] = self._lease(self.identity, acquired, transitions)
        return self._write("PUT", f"{self._path}/{name}", current, deadline)

    def _write(self, method: str, path: str, body: dict[str, Any], deadline: float) -> bool:
        try:
            self._kube.request(method, path, body=body, timeout=max(0.1, deadline - time.monotonic()))
        except KubeError as exc:
            if exc.status == 409:  # another candidate wrote first
                return False
            raise
        return True

    def release(self) -> None:
        """Give the Lease up if we hold it, so a standby need not wait for it to expire."""
        path = f"{self._path}/{self._settings.lease_name}"
        try:
            current = self._kube.request("GET", path, timeout=5)
            spec = current.get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return
            current["spec"] = {
                **spec,
                "holderIdentity": "",
                "leaseDurationSeconds": 1,
                "renewTime": _micro_time(),
            }
            self._kube.request("PUT", path, body=current, timeout=5)
            self._log.info("released the lease")
        except KubeError as exc:
            self._log.warning("could not release the lease: %s", exc)

    def _attempt(self) -> bool:
        try:
            return self.try_acquire_or_renew()
        except KubeError as exc:
            self._log.warning("%s", exc)
            return False

    def run(self, stop: threading.Event, lead: Callable[[threading.Event], None]) -> bool:
        """Wait for the Lease, then lead(until) while we keep it; release on stop. False if it was lost."""
        retry = self._settings.retry_period_seconds
        while not stop.is_set():
            if self._attempt():
                break
            stop.wait(retry)
        if stop.is_set():
            return True
        self._log.info("became leader as %s", self.identity, extra={"fields": {"holder": self.identity}})
        self._on_leader(True)
        until = threading.Event()
        lost = threading.Event()

        def renew() -> None:
            last = time.monotonic()
            while not until.is_set() and not stop.wait(retry):
                if self._attempt():
                    last = time.monotonic()
                elif time.monotonic() - last > self._settings.renew_deadline_seconds:
                    self._log.error("lost the lease: could not renew in time")
                    lost.set()
                    break
            until.set()

        renewer = threading.Thread(target=renew, name="lease-renew", daemon=True)
        renewer.start()
        try:
            lead(until)
        finally:
            until.set()
            self._on_leader(False)
            renewer.join()
            if not lost.is_set():
                self.release()
        return not lost.is_set()
