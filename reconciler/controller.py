"""The reconciler: the controllers below, run on shared informers and one work queue.

Informers cache StatefulSets and our Services and feed a deduplicating work queue keyed by StatefulSet
namespace/name; workers hand each key's cached StatefulSet to every controller in turn. Each controller
does one job and owns its one piece of state, as cert-manager's cainjector does:
service_controller.py makes, repairs and removes the backend Services; stdio_controller.py scales stdio
StatefulSets back to one replica.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from mcp_admission.kube import Kube, KubeError
from mcp_admission.logs import ObjectLog
from mcp_admission.policies import PolicyConfig
from mcp_admission.reconciler.informer import Informer, Obj, in_scope, object_key
from mcp_admission.reconciler.metrics import ReconcilerMetrics
from mcp_admission.reconciler.queue import WorkQueue
from mcp_admission.reconciler.service_controller import FIELD_MANAGER, ServiceController, controller_ref
from mcp_admission.reconciler.services import MANAGED_BY, MANAGED_BY_LABEL
from mcp_admission.reconciler.settings import ReconcilerSettings
from mcp_admission.reconciler.stdio_controller import StdioScaleBack

__all__ = ["FIELD_MANAGER", "Controller", "Reconciler"]

log = logging.getLogger(__name__)
STOP_SECONDS = 5  # stop() waits this long for its threads (each ends at once: watches are shut down)


class Controller(Protocol):
    """One job on a StatefulSet, and the state that job keeps about it."""

    def reconcile(self, sts: Obj) -> None: ...

    def forget(self, statefulset_key: str) -> None: ...


class Reconciler:
    def __init__(
        self,
        kube: Kube,
        policy: PolicyConfig,
        settings: ReconcilerSettings,
        metrics: ReconcilerMetrics,
        namespaces: tuple[str, ...] = (),
    ) -> None:
        self._settings = settings
        self.metrics = metrics
        self.queue = WorkQueue(metrics.queue_depth.set)
        scopes = namespaces or settings.namespaces
        self._statefulsets: dict[str, Informer] = {}  # namespace ("" = all) → informer
        self._services: dict[str, Informer] = {}
        for namespace in scopes or ("",):
            where = f"/namespaces/{namespace}" if namespace else ""
            self._statefulsets[namespace] = Informer(
                kube,
                f"/apis/apps/v1{where}/statefulsets",
                self._statefulset_changed,
                self._statefulset_gone,
                self._watch_failed,
            )
            # Only ours (labelled) are cached: any other one is absent or not ours yet, and gets applied.
            self._services[namespace] = Informer(
                kube,
                f"/api/v1{where}/services",
                self._service_changed,
                self._service_changed,
                self._watch_failed,
                label_selector=f"{MANAGED_BY_LABEL}={MANAGED_BY}",
            )
        self._informers = (*self._statefulsets.values(), *self._services.values())
        self.services = ServiceController(kube, policy, metrics, lambda ns: in_scope(self._services, ns))
        self.stdio = StdioScaleBack(kube, policy, metrics)
        self.controllers: tuple[Controller, ...] = (self.services, self.stdio)  # in this order per key
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.failing: set[str] = set()  # keys whose last reconcile failed (for --once's exit code)

    # -- informer callbacks --------------------------------------------------------------------------
    def _statefulset_changed(self, sts: Obj) -> None:
        self.queue.add(object_key(sts))

    def _statefulset_gone(self, sts: Obj) -> None:
        for controller in self.controllers:
            controller.forget(object_key(sts))

    def _service_changed(self, service: Obj) -> None:
        ref = controller_ref(service)
        if ref is not None:
            self.queue.add(f"{(service.get('metadata') or {}).get('namespace', '')}/{ref.get('name', '')}")

    def _watch_failed(self, message: str) -> None:
        self.metrics.errors.inc()
        log.warning("watch failed, retrying with backoff: %s", message)

    # -- lifecycle -----------------------------------------------------------------------------------
    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        """Every thread start() spawned: after stop() none is alive."""
        return tuple(self._threads)

    def start(self) -> None:
        for informer in self._informers:
            self._spawn(informer.run, f"informer {informer.path}")
        for index in range(self._settings.workers):
            self._spawn(self._work, f"worker-{index}")
        self._spawn(self._resync, "resync")

    def wait_synced(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for informer in self._informers:
            if not informer.synced.wait(max(0.0, deadline - time.monotonic())):
                return False
        return True

    def stop(self) -> None:
        self._stop.set()
        for informer in self._informers:
            informer.stop()
        self.queue.close()
        deadline = time.monotonic() + STOP_SECONDS  # one bound for all, not one per thread
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("thread %r did not stop within %ss", thread.name, STOP_SECONDS)
        self.metrics.queue_depth.set(0)

    def run(self, until: threading.Event) -> None:
        """Reconcile until `until` is set (leadership lost or shutdown)."""
        self.start()
        until.wait()
        self.stop()

    def resync(self) -> None:
        """Queue every StatefulSet in the cache again."""
        for informer in self._statefulsets.values():
            for sts in informer.objects():
                self.queue.add(object_key(sts))

    def run_once(self, timeout: float) -> bool:
        """One full pass over every StatefulSet, retries included; True when it completed without error."""
        deadline = time.monotonic() + timeout
        self.start()
        try:
            if not self.wait_synced(timeout):
                log.error("could not list StatefulSets and Services within %ss", timeout)
                return False
            self.resync()
            while self.queue.wait_idle(max(0.0, deadline - time.monotonic())):
                if not self.queue.pending_retries():
                    return not self.failing
                time.sleep(0.1)
            return False
        finally:
            self.stop()

    def _resync(self) -> None:
        while not self._stop.wait(self._settings.resync_seconds):
            self.resync()

    def _work(self) -> None:
        # As client-go's WaitForCacheSync: a Service missing from a cache that has not listed yet is not
        # missing, and applying it would be a needless write.
        while not self.wait_synced(1):
            if self._stop.is_set():
                return
        while (key := self.queue.get()) is not None:
            try:
                self.reconcile(key)
                self.metrics.reconciles.labels("ok").inc()
                self.failing.discard(key)
                self.queue.forget(key)
            except Exception as exc:  # a bug must not kill the worker; the key is retried with backoff
                self.failing.add(key)
                self.metrics.errors.inc()
                self.metrics.reconciles.labels("error").inc()
                on = ObjectLog.for_key(log, "StatefulSet", key)
                if isinstance(exc, KubeError):
                    on.warning("reconcile failed, will retry: %s", exc)
                else:
                    on.exception("reconcile failed")
                if not self._stop.is_set():
                    self.queue.retry_later(key)
            finally:
                self.queue.done(key)

    def _cached_statefulset(self, key: str) -> Obj | None:
        return in_scope(self._statefulsets, key.split("/", 1)[0]).get(key)

    def reconcile(self, key: str) -> None:
        sts = self._cached_statefulset(key)
        if sts is None or (sts.get("metadata") or {}).get("deletionTimestamp"):
            return  # gone or going: the garbage collector removes the Services it owned
        for controller in self.controllers:
            controller.reconcile(sts)
