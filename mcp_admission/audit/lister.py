"""Lists in pages (`limit` and `continue`), so memory stays bounded by the page size, not the cluster."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI reads DEFAULT_PAGE_SIZE without loading the kubernetes client
    from mcp_admission.kube import Kube

DEFAULT_PAGE_SIZE = 500  # kubectl's --chunk-size


def pages(kube: Kube, path: str, limit: int = DEFAULT_PAGE_SIZE) -> Iterator[list[dict[str, Any]]]:
    """Each page of the list at `path`, in order; KubeError when the apiserver refuses one.

    Pages after the first come from the first one's snapshot (the apiserver keeps it behind the continue
    token); an expired token is a 410 error like any other.
    """
    token = ""
    while True:
        query = [("limit", str(limit))] + ([("continue", token)] if token else [])
        page = kube.request("GET", path, query)
        items = page.get("items") or []
        yield [item for item in items if isinstance(item, dict)]
        token = (page.get("metadata") or {}).get("continue") or ""
        if not token:
            return
