"""A stand-in for one HorizontalPodAutoscaler, as far as it writes a workload's replica count.

Written from kubernetes v1.20 pkg/controller/podautoscaler/horizontal.go, not copied:
`reconcileAutoscaler` reads the target's scale subresource, takes its spec.replicas as the current
count, and decides: autoscaling off when the count is 0 (and minReplicas is not); maxReplicas when above
it; minReplicas when below it; else the metrics' recommendation, bounded by `normalizeDesiredReplicas`
/ `convertDesiredReplicasWithRules` (min, max, and a scale-up limit of max(2 × current, 4) from
`calculateScaleUpLimit`). Only when the desired count differs does it write, with `UpdateScale` (a PUT
of the Scale). `kubectl scale` writes the same subresource once. The metrics are a fixed
recommendation here, so no scale-down stabilization window comes into play.
"""

from __future__ import annotations

from mcp_admission.kube import Kube, KubeError


class AutoscalerStandIn:
    def __init__(
        self, kube: Kube, path: str, min_replicas: int, max_replicas: int, recommendation: int
    ) -> None:
        self.kube = kube
        self.scale_path = path + "/scale"
        self.min, self.max, self.recommendation = min_replicas, max_replicas, recommendation
        self.writes = 0

    def desired(self, current: int) -> int:
        if current == 0 and self.min != 0:
            return 0  # scaled to zero by hand: the HPA leaves it (autoscaling disabled)
        if current > self.max:
            return self.max
        if current < self.min:
            return self.min
        ceiling = min(self.max, max(2 * current, 4))
        return max(self.min, min(self.recommendation, ceiling))

    def sync(self, attempts: int = 5) -> bool:
        """One HPA sync; True when it wrote the scale. A write that meets a concurrent one (409: the
        Scale carries the resourceVersion it read) fails that sync, and the next sync reads again: here
        at once."""
        for _ in range(attempts):
            scale = self.kube.request("GET", self.scale_path)
            current = int(scale["spec"].get("replicas", 0))
            desired = self.desired(current)
            if desired == current:
                return False
            scale["spec"]["replicas"] = desired
            try:
                self.kube.request("PUT", self.scale_path, body=scale)
            except KubeError as exc:
                if exc.status != 409:
                    raise
                continue
            self.writes += 1
            return True
        raise AssertionError(f"{self.scale_path}: {attempts} syncs in a row met a concurrent write")
