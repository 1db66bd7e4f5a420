"""Objects at the apiserver's limits, built to make CEL expensive, and a clock for the conditions on
them: for tests/deploy/test_cel_cost.py and bench/cel (issue 19 §1).

The conditions run before the apiserver validates the object: on anything up to its 3 MiB request
limit, whose labels, annotations and ownerReferences its author chooses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from cel_expr_python import cel

from mcp_admission.policies import Operation, Request
from mcp_admission.policies.engine.workloads import SKIP_ANNOTATION

from .apiserver import ENVIRONMENT, admission_request

# apimachinery's ValidateObjectMeta: all annotations of an object, keys and values, in bytes; and the
# apiserver's request body limit (MaxRequestBodyBytes), which is all that bounds an object before it is
# validated, when the conditions run.
ANNOTATIONS_LIMIT = 256 * 1024
REQUEST_LIMIT = 3 * 1024 * 1024
LONGEST = ANNOTATIONS_LIMIT - len(SKIP_ANNOTATION)
# The opt-out condition before issue 19, for comparison: superlinear in cel-go.
BEFORE = 'object.metadata.annotations["mcp-admission.io/skip-policies"].split(",").exists(p, p.trim() == "*")'


def service(
    *,
    name: str = "web",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    owners: list[dict[str, str]] | None = None,
) -> Request:
    """A Service CREATE in `default` with the metadata given."""
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    for key, value in (("labels", labels), ("annotations", annotations), ("ownerReferences", owners)):
        if value is not None:
            meta[key] = value
    obj = {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {}}
    return Request("", "v1", "Service", Operation.CREATE, "default", name, obj)


def reference(kind: str = "StatefulSet", name: str = "other", api_version: str = "apps/v1") -> dict[str, str]:
    return {"apiVersion": api_version, "kind": kind, "name": name, "uid": "0b6c4d6e-0000"}


def with_opt_out(value: str, labelled: bool = True) -> Request:
    """A Service with this opt-out annotation, labelled as ToolHive's or not labelled at all."""
    return service(labels={"toolhive": "true"} if labelled else None, annotations={SKIP_ANNOTATION: value})


def with_labels(count: int, toolhive: bool) -> Request:
    many = {f"example.com/label-{i}": "x" * 20 for i in range(count)}
    return service(labels={**many, "toolhive": "true"} if toolhive else many)


def with_owners(count: int, mcp_last: bool = False) -> Request:
    """An unlabelled Service mcp-web-sts with `count` ownerReferences: the owner loop decides it. The
    last one is StatefulSet web-sts (which makes it ToolHive's backend Service) or not."""
    owners = [reference() for _ in range(count)]
    if mcp_last:
        owners[-1] = reference(name="web-sts")
    return service(name="mcp-web-sts", owners=owners)


def with_long_names(length: int) -> Request:
    """The Service's name and its owners' names as long as a request allows: the loop builds
    "mcp-" + name and compares strings."""
    owner = "s" * length
    refs = [reference(name=owner), reference("MCPServer", owner, "v1")]
    return service(name="mcp-" + owner + "x", owners=refs)


# Each adversarial family: size -> request. Sizes are characters, labels or ownerReferences.
FAMILIES: dict[str, Callable[[int], Request]] = {
    "many entries": lambda n: with_opt_out("a," * (n // 2)),
    "empty entries": lambda n: with_opt_out("," * n),
    "spaces, then no star": lambda n: with_opt_out(" " * n),
    "stars, none alone": lambda n: with_opt_out("*" * n),
    "spaces around a star, at the end": lambda n: with_opt_out("\u3000, \t" * (n // 4) + " * "),
    "entries, unlabelled": lambda n: with_opt_out("a, " * (n // 3), labelled=False),
    "labels": lambda n: with_labels(n, toolhive=False),
    "labels, one ToolHive's": lambda n: with_labels(n, toolhive=True),
    "ownerReferences": with_owners,
    "long names": with_long_names,
}
# (small, 8x) for the growth test; the larger one is at the apiserver's limits.
SIZES: dict[str, tuple[int, int]] = {
    **dict.fromkeys(list(FAMILIES)[:6], (LONGEST // 8, LONGEST)),
    "labels": (7_500, 60_000),  # 60,000 labels of ~50 bytes: 3 MiB
    "labels, one ToolHive's": (7_500, 60_000),
    "ownerReferences": (5_000, 40_000),  # 40,000 of ~75 bytes: 3 MiB
    "long names": (REQUEST_LIMIT // 8, REQUEST_LIMIT),
}


def evaluator(conditions: Sequence[tuple[str, cel.Expression]], request: Request) -> Callable[[int], float]:
    """A clock for evaluating every condition on one request: seconds for `times` evaluations. The
    activation (the Python object made CEL values) is built once and used once, outside the clock."""
    data = {"object": request.object, "oldObject": None, "request": admission_request(request)}
    activation = ENVIRONMENT.Activation(data=data)

    def evaluate(times: int) -> float:
        start = time.perf_counter()
        for _ in range(times):
            for _, expression in conditions:
                expression.eval(activation)
        return time.perf_counter() - start

    evaluate(1)
    return evaluate
