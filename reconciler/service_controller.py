"""The backend Services controller: each MCP StatefulSet gets the Services services.py says it needs.

It compares the desired Services with the cached live ones and server-side applies only on drift. A
field another manager owns with another value is a 409 with force=false: we record an Event and leave
that Service as it is until it or the StatefulSet changes, so nothing flaps. A Service the StatefulSet no
longer needs (not MCP any more, stdio, opted out, namespace excluded) is deleted, as Kyverno's generate
with synchronize does, but only when it is provably ours: our label and this very StatefulSet as its
controller. Its one piece of state: the conflicts it left alone.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from mcp_admission.kube import APPLY_PATCH, Kube, KubeError
from mcp_admission.logs import ObjectLog
from mcp_admission.policies import PolicyConfig, service_names
from mcp_admission.reconciler import events
from mcp_admission.reconciler.drift import needs_apply
from mcp_admission.reconciler.informer import Informer, Obj, object_key
from mcp_admission.reconciler.metrics import ReconcilerMetrics
from mcp_admission.reconciler.services import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    ServicePlan,
    plan_services,
)

log = logging.getLogger(__name__)


def _log(sts: Obj) -> ObjectLog:
    """The StatefulSet's logger: the Services it needs are logged as its own."""
    return ObjectLog.for_key(log, "StatefulSet", object_key(sts))


# The server-side apply field manager of every Service we write: renaming it would orphan the fields
# live Services record as ours.
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


def controller_ref(service: Obj) -> dict[str, Any] | None:
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
    ref = controller_ref(service)
    return (
        bool(uid) and labels.get(MANAGED_BY_LABEL) == MANAGED_BY and ref is not None and ref.get("uid") == uid
    )


class ServiceController:
    def __init__(
        self,
        kube: Kube,
        policy: PolicyConfig,
        metrics: ReconcilerMetrics,
        service_cache: Callable[[str], Informer],
    ) -> None:
        self._kube = kube
        self._policy = policy
        self._metrics = metrics
        self._service_cache = service_cache  # namespace → the informer of our Services there
        # (StatefulSet key, Service key) → (the Service's resourceVersion, our manifest) when it was left
        # alone: not tried again until either changes.
        self._conflicts: dict[tuple[str, str], tuple[str, str]] = {}
        self._conflicts_lock = threading.Lock()

    def forget(self, statefulset_key: str) -> None:
        """That StatefulSet is gone: so are the conflicts remembered for it."""
        with self._conflicts_lock:
            for key in [key for key in self._conflicts if key[0] == statefulset_key]:
                del self._conflicts[key]

    def reconcile(self, sts: Obj) -> None:
        plan = plan_services(sts, self._policy)
        if plan.skipped:
            _log(sts).debug("no Services: %s", plan.skipped)
        for service in plan.services:
            self._ensure(sts, service)
        for service in self._unwanted(sts, plan):
            self._remove(sts, service, plan.skipped or "no longer needed")

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
        self._metrics.writes.labels("Service").inc()
        self._service_cache(namespace).remember(applied)
        outcome = "created" if live is None else "repaired drift"
        _log(sts).info("applied Service %s (%s)", name, outcome, extra={"fields": {"service": name}})

    def _left_alone(
        self, sts: Obj, memo: tuple[str, str], version: str, manifest: str, error: KubeError
    ) -> None:
        with self._conflicts_lock:
            self._conflicts[memo] = (version, manifest)
        name = memo[1].split("/")[1]
        if error.status == 409:
            self._metrics.conflicts.inc()
            reason, message = "ServiceFieldConflict", f"another manager owns {_conflict_summary(error)}"
        else:
            self._metrics.errors.inc()
            reason, message = "ServiceApplyRejected", str(error.body.get("message") or error)
        message = f"Service {name} left alone: {message}"
        _log(sts).warning(message, extra={"fields": {"service": name}})
        events.announce(self._kube, self._metrics, sts, "Warning", reason, message)

    def _unwanted(self, sts: Obj, plan: ServicePlan) -> list[Obj]:
        """Our cached Services of `sts` that the plan no longer has. Never its governing Service (its
        spec.serviceName, immutable): that one gives its pods their DNS names for as long as it lives.
        Only the names we would make now are looked at, for the same reason (an older name pattern)."""
        meta = sts.get("metadata") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        wanted = {service["metadata"]["name"] for service in plan.services}
        wanted.add((sts.get("spec") or {}).get("serviceName"))
        names = set(service_names(name, self._policy)) - wanted
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
        self._metrics.writes.labels("Service").inc()
        self._service_cache(namespace).forget(service)
        with self._conflicts_lock:
            self._conflicts.pop((object_key(sts), object_key(service)), None)
        _log(sts).info("removed Service %s (%s)", name, reason, extra={"fields": {"service": name}})
        events.announce(
            self._kube, self._metrics, sts, "Normal", "ServiceRemoved", f"Service {name} removed: {reason}"
        )
