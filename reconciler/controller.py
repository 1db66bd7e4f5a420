"""The reconciler: MCP StatefulSets get the Services services.py says they need.

Informers feed a deduplicating work queue keyed by StatefulSet namespace/name; workers compare the
desired Services with the cached live ones and server-side apply only on drift. A field another manager
owns with another value is a 409 with force=false: we record an Event and leave that Service as it is
until it or the StatefulSet changes, so nothing flaps. A Service the StatefulSet no longer needs (not MCP
any more, stdio, opted out, namespace excluded) is deleted, as Kyverno's generate with synchronize does,
but only when it is provably ours: our label and this very StatefulSet as its controller. stdio
StatefulSets above one replica are scaled back through the scale subresource, as the stdio-replicas
policy decides, once: scaled up again, the count has another owner (an HPA), told with an Event.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from mcp_admission.kube import APPLY_PATCH, MERGE_PATCH, Kube, KubeError
from mcp_admission.policies import Operation, PolicyConfig, Request, decide, statefulset_dns, warning_text
from mcp_admission.policies.statefulset_dns import headless_service_name
from mcp_admission.policies.stdio_replicas import POLICY as STDIO_REPLICAS
from mcp_admission.reconciler import events
from mcp_admission.reconciler.drift import needs_apply
from mcp_admission.reconciler.informer import Informer, Obj, object_key
from mcp_admission.reconciler.metrics import ReconcilerMetrics
from mcp_admission.reconciler.queue import WorkQueue
from mcp_admission.reconciler.services import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    ServicePlan,
    cluster_ip_service_name,
    plan_services,
)
from mcp_admission.reconciler.settings import ReconcilerSettings

log = logging.getLogger(__name__)
FIELD_MANAGER = "mcp-admission"


def _conflict_summary(error: KubeError) -> str:
    """'<field> (owned by <manager>)' for each conflict the apiserver listed."""
    causes = (error.body.get("details") or {}).get("causes") or ()
    parts = []
    for cause in causes:
        if isinstance(cause, dict):
            message = str(cause.get("message", "")).removeprefix("conflict with ")
            parts.append(f"{cause.get('field', '?')} ({message})")
    return ", ".join(parts) or str(error)


def _in_scope(informers: dict[str, Informer], namespace: str) -> Informer:
    """This namespace's informer, else the all-namespaces one."""
    return informers.get(namespace) or informers[""]


def _controller_ref(service: Obj) -> dict[str, Any] | None:
    """The ownerReference of the StatefulSet that controls `service` (the apiserver allows one controller)."""
    for ref in (service.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("kind") == "StatefulSet" and ref.get("controller") is True:
            return ref
    return None


def _made_for(service: Obj, sts: Obj) -> bool:
    """Ours (our label) and controlled by this very StatefulSet: by uid, so one recreated under the same
    name, or another manager's object that merely has our name, does not count."""
    labels = (service.get("metadata") or {}).get("labels") or {}
    uid = (sts.get("metadata") or {}).get("uid")
    ref = _controller_ref(service)
    return (
        bool(uid) and labels.get(MANAGED_BY_LABEL) == MANAGED_BY and ref is not None and ref.get("uid") == uid
    )


class Reconciler:
    def __init__(
        self,
        kube: Kube,
        policy: PolicyConfig,
        settings: ReconcilerSettings,
        metrics: ReconcilerMetrics,
        namespaces: tuple[str, ...] = (),
    ) -> None:
        self._kube = kube
        self._policy = policy
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
        # (StatefulSet key, Service key) → (the Service's resourceVersion, our manifest) when it was left
        # alone: not tried again until either changes.
        self._conflicts: dict[tuple[str, str], tuple[str, str]] = {}
        self._conflicts_lock = threading.Lock()
        # StatefulSet key → (uid, said): we scaled that StatefulSet back to one replica once. Scaled up
        # again, another writer (an HPA, KEDA, a script) owns the count: it is `said` once, never fought.
        self._scaled_back: dict[str, tuple[object, bool]] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.failing: set[str] = set()  # keys whose last reconcile failed (for --once's exit code)

    # -- informer callbacks --------------------------------------------------------------------------
    def _statefulset_changed(self, sts: Obj) -> None:
        self.queue.add(object_key(sts))

    def _statefulset_gone(self, sts: Obj) -> None:
        owner = object_key(sts)
        self._scaled_back.pop(owner, None)
        with self._conflicts_lock:
            for key in [key for key in self._conflicts if key[0] == owner]:
                del self._conflicts[key]

    def _service_changed(self, service: Obj) -> None:
        ref = _controller_ref(service)
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
        for thread in self._threads:
            thread.join(timeout=5)
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
                if isinstance(exc, KubeError):
                    log.warning("reconcile %s failed, will retry: %s", key, exc)
                else:
                    log.exception("reconcile %s failed", key)
                if not self._stop.is_set():
                    self.queue.retry_later(key)
            finally:
                self.queue.done(key)

    # -- one StatefulSet -----------------------------------------------------------------------------
    def _cached_statefulset(self, key: str) -> Obj | None:
        return _in_scope(self._statefulsets, key.split("/", 1)[0]).get(key)

    def reconcile(self, key: str) -> None:
        sts = self._cached_statefulset(key)
        if sts is None or (sts.get("metadata") or {}).get("deletionTimestamp"):
            return  # gone or going: the garbage collector removes the Services it owned
        plan = plan_services(sts, self._policy)
        if plan.skipped:
            log.debug("%s: %s", key, plan.skipped)
        for service in plan.services:
            self._ensure(sts, service)
        for service in self._unwanted(sts, plan):
            self._remove(sts, service, plan.skipped or "no longer needed")
        self._cap_stdio(sts)

    def _service_cache(self, namespace: str) -> Informer:
        return _in_scope(self._services, namespace)

    def _live_service(self, namespace: str, name: str, remembered: bool) -> Obj | None:
        """The cached Service (ours carry the label the cache selects), or a GET for a remembered
        conflict; None when neither knows it: then applying is right whatever exists (it lacks our label)."""
        cached = self._service_cache(namespace).get(f"{namespace}/{name}")
        if cached is not None or not remembered:
            return cached
        return self._kube.get(f"/api/v1/namespaces/{namespace}/services/{name}")

    def _ensure(self, sts: Obj, desired: dict[str, Any]) -> None:
        namespace, name = desired["metadata"]["namespace"], desired["metadata"]["name"]
        key = f"{namespace}/{name}"
        memo = (object_key(sts), key)
        with self._conflicts_lock:
            remembered = self._conflicts.get(memo)
        live = self._live_service(namespace, name, remembered is not None)
        version = str((live or {}).get("metadata", {}).get("resourceVersion", ""))
        manifest = json.dumps(desired, sort_keys=True)
        if remembered == (version, manifest):
            return
        with self._conflicts_lock:
            self._conflicts.pop(memo, None)
        if not needs_apply(desired, live, FIELD_MANAGER):
            return
        path = f"/api/v1/namespaces/{namespace}/services/{name}"
        query = (("fieldManager", FIELD_MANAGER), ("force", "false"))
        try:
            applied = self._kube.request("PATCH", path, query, desired, APPLY_PATCH)
        except KubeError as exc:
            # 409: another manager owns a field with another value. 422: the Service as it stands (a
            # foreign port with our port's name, say) cannot take our fields. Neither changes by
            # retrying: say so once and wait until the Service or the StatefulSet changes. A 409
            # AlreadyExists is neither: another writer (ToolHive's proxy runner) created it at the same
            # moment, and the retry (backoff) applies to what now exists.
            if exc.status not in (409, 422) or exc.body.get("reason") == "AlreadyExists":
                raise
            if live is None:  # not ours yet: remember the version we could not change
                version = str(
                    (self._live_service(namespace, name, True) or {})
                    .get("metadata", {})
                    .get("resourceVersion", "")
                )
            self._left_alone(sts, memo, version, manifest, exc)
            return
        self.metrics.writes.labels("Service").inc()
        self._service_cache(namespace).remember(applied)
        log.info("applied Service %s (%s)", key, "created" if live is None else "repaired drift")

    def _left_alone(
        self, sts: Obj, memo: tuple[str, str], version: str, manifest: str, error: KubeError
    ) -> None:
        with self._conflicts_lock:
            self._conflicts[memo] = (version, manifest)
        name = memo[1].split("/")[1]
        if error.status == 409:
            self.metrics.conflicts.inc()
            reason, message = "ServiceFieldConflict", f"another manager owns {_conflict_summary(error)}"
        else:
            self.metrics.errors.inc()
            reason, message = "ServiceApplyRejected", str(error.body.get("message") or error)
        message = f"Service {name} left alone: {message}"
        log.warning("%s: %s", object_key(sts), message)
        self._event(sts, "Warning", reason, message)

    def _unwanted(self, sts: Obj, plan: ServicePlan) -> list[Obj]:
        """Our cached Services of `sts` that the plan no longer has. Never its governing Service (its
        spec.serviceName, immutable): that one gives its pods their DNS names for as long as it lives.
        Only the names we would make now are looked at, for the same reason (an older name pattern)."""
        meta = sts.get("metadata") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        wanted = {service["metadata"]["name"] for service in plan.services}
        wanted.add((sts.get("spec") or {}).get("serviceName"))
        names = {
            cluster_ip_service_name(name),
            headless_service_name(name, self._policy.settings(statefulset_dns.POLICY)),
        } - wanted
        cache = self._service_cache(namespace)
        found = (cache.get(f"{namespace}/{service}") for service in sorted(n for n in names if n))
        return [service for service in found if service is not None and _made_for(service, sts)]

    def _remove(self, sts: Obj, service: Obj, reason: str) -> None:
        meta = service["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        # Only the object we judged ours: one recreated (uid) or changed (resourceVersion: relabelled,
        # re-owned) since our cache saw it stays.
        preconditions = {"uid": meta["uid"], "resourceVersion": meta["resourceVersion"]}
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": preconditions}
        try:
            self._kube.request("DELETE", f"/api/v1/namespaces/{namespace}/services/{name}", body=options)
        except KubeError as exc:
            # 404: gone already. 409: not the object we judged; its watch event queues its owner again.
            if exc.status in (404, 409):
                return
            raise
        self.metrics.writes.labels("Service").inc()
        self._service_cache(namespace).forget(service)
        with self._conflicts_lock:
            self._conflicts.pop((object_key(sts), object_key(service)), None)
        log.info("%s: removed Service %s (%s)", object_key(sts), name, reason)
        self._event(sts, "Normal", "ServiceRemoved", f"Service {name} removed: {reason}")

    def _cap_stdio(self, sts: Obj) -> None:
        meta = sts.get("metadata") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        request = Request("apps", "v1", "StatefulSet", Operation.UPDATE, namespace, name, sts, old_object=sts)
        decision = decide(request, self._policy, policies=(STDIO_REPLICAS,))
        replicas = next((op["value"] for op in decision.patch if op.get("path") == "/spec/replicas"), None)
        if replicas is None:
            return
        key, uid = object_key(sts), meta.get("uid")
        if key in self._scaled_back and self._scaled_back[key][0] == uid:
            # Scaled up again after our scale-back: scaling it back each time would be a write per
            # sync of that writer, forever. Say it once, to the StatefulSet, and leave the count to it.
            if not self._scaled_back[key][1]:
                self._scaled_back[key] = (uid, True)
                count = (sts.get("spec") or {}).get("replicas")
                message = f"stdio-replicas: scaled to {count} again after our scale-back; left to that "
                message += "writer (an HPA?): cap it at 1 there"
                log.warning("%s: %s", key, message)
                self._event(sts, "Warning", "StdioReplicasContested", message)
            return
        # The scale subresource: what kubectl scale and an HPA use, and it touches nothing else.
        path = f"/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/scale"
        self._kube.request("PATCH", path, body={"spec": {"replicas": replicas}}, content_type=MERGE_PATCH)
        self.metrics.writes.labels("StatefulSet").inc()
        self._scaled_back[key] = (uid, False)
        message = "; ".join(warning_text(finding) for finding in decision.warnings)
        log.info("%s/%s: scaled back: %s", namespace, name, message)
        self._event(sts, "Warning", "StdioReplicasCapped", message)

    def _event(self, sts: Obj, event_type: str, reason: str, message: str) -> None:
        """Best effort: what was done (or remembered as left alone) stands without its Event."""
        try:
            events.record(self._kube, sts, "StatefulSet", event_type, reason, message)
            self.metrics.writes.labels("Event").inc()
        except KubeError as exc:
            self.metrics.errors.inc()
            log.warning("could not record an Event on %s: %s", object_key(sts), exc)
