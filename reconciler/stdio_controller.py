"""The stdio scale-back controller: a stdio StatefulSet above one replica is scaled back to one.

As the stdio-replicas policy decides, through the scale subresource, once: scaled up again, the count
has another owner (an HPA, KEDA, a script), told with an Event and never fought. Its one piece of state:
the StatefulSets it scaled back.
"""

from __future__ import annotations

import logging

from mcp_admission.kube import MERGE_PATCH, Kube
from mcp_admission.logs import ObjectLog
from mcp_admission.policies import Operation, PolicyConfig, Request, decide, stdio_replicas, warning_text
from mcp_admission.reconciler import events
from mcp_admission.reconciler.informer import Obj, object_key
from mcp_admission.reconciler.metrics import ReconcilerMetrics

log = logging.getLogger(__name__)


class StdioScaleBack:
    def __init__(self, kube: Kube, policy: PolicyConfig, metrics: ReconcilerMetrics) -> None:
        self._kube = kube
        self._policy = policy
        self._metrics = metrics
        # StatefulSet key → (uid, said): we scaled that StatefulSet back to one replica once. Scaled up
        # again, another writer owns the count: it is `said` once, never fought.
        self._scaled_back: dict[str, tuple[object, bool]] = {}

    def forget(self, statefulset_key: str) -> None:
        """That StatefulSet is gone: one made again under its name starts afresh."""
        self._scaled_back.pop(statefulset_key, None)

    def reconcile(self, sts: Obj) -> None:
        meta = sts.get("metadata") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        request = Request("apps", "v1", "StatefulSet", Operation.UPDATE, namespace, name, sts, old_object=sts)
        decision = decide(request, self._policy, policies=(stdio_replicas.POLICY,))
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
                ObjectLog(log, "StatefulSet", namespace, name).warning(message)
                events.announce(self._kube, self._metrics, sts, "Warning", "StdioReplicasContested", message)
            return
        # The scale subresource: what kubectl scale and an HPA use, and it touches nothing else.
        path = f"/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/scale"
        self._kube.request("PATCH", path, body={"spec": {"replicas": replicas}}, content_type=MERGE_PATCH)
        self._metrics.writes.labels("StatefulSet").inc()
        self._scaled_back[key] = (uid, False)
        message = "; ".join(warning_text(finding) for finding in decision.warnings)
        ObjectLog(log, "StatefulSet", namespace, name).info("scaled back: %s", message)
        events.announce(self._kube, self._metrics, sts, "Warning", "StdioReplicasCapped", message)
