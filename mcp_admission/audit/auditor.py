"""Every object the policies cover, decided as the webhook would decide an UPDATE of it to itself.

The live object is both `object` and `oldObject`, exactly as the apiserver would send it: it already
carries the apiserver's defaults, so nothing is defaulted or stripped here. What is wrong with it now is
what the webhook would patch, warn about or deny on its next write.

Memory: each page is decided and dropped. Only MCP workloads (what the engine recognises, findings or
not) become Results, each holding its location, identity and decision, not the object; every other
object is only counted. So memory grows with the number of MCP workloads, never with the size of the cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mcp_admission.kube import Kube, KubeError
from mcp_admission.policies import (
    ALL_POLICIES,
    TOOLHIVE_GROUP,
    Operation,
    PolicyConfig,
    Request,
    admit_workload,
    workload_of,
)
from mcp_admission.report.operator import Operator, toolhive_operator
from mcp_admission.report.result import Identity, InputError, Location, Result, api_path

from .lister import DEFAULT_PAGE_SIZE, pages
from .resources import Resource, policy_kinds, to_read

DISCOVERY = f"apis/{TOOLHIVE_GROUP}"  # where ToolHive's resources are discovered
RBAC = "ClusterRole mcp-admission-audit, deploy/base/rbac-audit.yaml"
Progress = Callable[[Resource, int], None]  # after each page: the resource, its objects read so far


@dataclass
class Audit:
    results: list[Result] = field(default_factory=list)  # one per MCP workload, in the order read
    errors: list[InputError] = field(default_factory=list)  # lists that could not be read (exit 2)
    read: dict[str, int] = field(default_factory=dict)  # objects per list read whole, by resource name
    operators: list[Operator] = field(default_factory=list)  # ToolHive's, among the Deployments read


def identity(resource: Resource, item: dict[str, Any]) -> Identity:
    """A listed object's identity: the list's apiVersion and kind (its items carry none), its namespace
    and name."""
    metadata = item.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    namespace, name = metadata.get("namespace"), metadata.get("name")
    return Identity(
        resource.api_version,
        resource.kind,
        namespace if isinstance(namespace, str) else "",
        name if isinstance(name, str) else "",
    )


def admit_listed(
    resource: Resource, location: Location, item: dict[str, Any], config: PolicyConfig
) -> Result | None:
    """One listed object admitted as the webhooks would admit an UPDATE of it to itself; None when the
    engine leaves it alone (no MCP workload, an excluded namespace, opted out of every policy)."""
    # A list's items carry no apiVersion and kind (built-in kinds); the webhook's object does.
    obj = {**item, "apiVersion": resource.api_version, "kind": resource.kind}
    ident = identity(resource, item)
    request = Request(
        ident.group, ident.version, ident.kind, Operation.UPDATE, ident.namespace, ident.name, obj, obj
    )
    workload = workload_of(request, config)
    if workload is None:
        return None
    decision, _ = admit_workload(request, workload, config)
    return Result(location, ident, Operation.UPDATE, decision)


def explain(exc: KubeError, resource: Resource | None) -> str:
    """What went wrong, for the user: which permission is missing, or why the apiserver did not answer."""
    message = exc.body.get("message") or str(exc)
    if exc.status == 0:
        return f"no answer from the apiserver: {exc}"
    if exc.status == 401:
        return f"401 Unauthorized: the apiserver refused the credentials ({message})"
    if exc.status == 403 and resource is not None:
        return f"403 Forbidden: {message}; the audit needs list on {resource.name} ({RBAC})"
    return f"{exc.status}: {message}"


def _fatal(exc: KubeError) -> bool:
    """No answer, or no valid credentials: every further request would fail the same way."""
    return exc.status in (0, 401)


def audit(
    kube: Kube,
    config: PolicyConfig,
    namespace: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    progress: Progress | None = None,
) -> Audit:
    """Read and decide every object of the policies' kinds, in `namespace` or all of them; only reads."""
    found = Audit()
    if namespace in config.excluded_namespaces:
        return found
    try:
        resources = to_read(kube, policy_kinds(ALL_POLICIES))
    except KubeError as exc:  # API discovery: open to every authenticated user, so no permission to name
        found.errors.append(InputError(api_path(DISCOVERY), explain(exc, None)))
        return found
    for resource in resources:
        path = resource.path(namespace)
        location = api_path(path)
        read = 0
        try:
            for page in pages(kube, path, page_size):
                for item in page:
                    # In an excluded namespace too: how the operator is configured concerns every resource.
                    if resource.kind == "Deployment":
                        item_namespace = identity(resource, item).namespace
                        if (operator := toolhive_operator(item, item_namespace)) is not None:
                            found.operators.append(operator)
                    result = admit_listed(resource, location, item, config)
                    if result is not None:
                        found.results.append(result)
                read += len(page)
                if progress is not None:
                    progress(resource, read)
        except KubeError as exc:  # what its pages before held is still reported
            found.errors.append(InputError(location, explain(exc, resource)))
            if _fatal(exc):
                break
        else:
            found.read[resource.name] = read
    return found
