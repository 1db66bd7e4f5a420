"""Which MCP StatefulSets get backend Services (design §3), decided in one place.

statefulset-dns names the headless one in `spec.serviceName`; the reconciler makes it. Both ask
`backend_selector`, so a StatefulSet never names a headless Service that will not exist.
"""

from __future__ import annotations

from mcp_admission.policies.engine.model import JSON
from mcp_admission.policies.engine.workloads import Workload, mapping

# A selector's matchLabels are read only up to this many (ToolHive's have two): the admission policies'
# CEL then loops over a bounded map, and the engine decides past the bound as they do.
MAX_SELECTOR_LABELS = 100
MATCH_EXPRESSIONS = "selector uses matchExpressions, which a Service selector cannot express"
NO_MATCH_LABELS = "selector has no matchLabels"
TOO_MANY_LABELS = f"selector has more than {MAX_SELECTOR_LABELS} matchLabels"


def backend_selector(statefulset: JSON, workload: Workload) -> dict[str, str] | str | None:
    """The selector of an MCP StatefulSet's backend Services; None when it serves nothing on the network
    (stdio: nothing to name, nothing wrong); else why it cannot have them.

    stdio only when its labels (or the selector that marked it) say so: a stdio server is one process
    attached to its proxy, and ToolHive makes no Services for it either. An MCP StatefulSet that names no
    transport was still marked as an MCP workload, so it is served, as stdio-replicas (which caps only
    what says stdio) reads it too.
    """
    if workload.transport == "stdio":
        return None
    selector = mapping(mapping(mapping(statefulset).get("spec")).get("selector"))
    if selector.get("matchExpressions"):
        return MATCH_EXPRESSIONS
    labels = mapping(selector.get("matchLabels"))
    if len(labels) > MAX_SELECTOR_LABELS:
        return TOO_MANY_LABELS
    if not labels or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        return NO_MATCH_LABELS
    return dict(labels)
