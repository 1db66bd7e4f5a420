"""Namespaces on the session's shared plane, between the packages that install cluster-wide parts there
(tests/e2e, tests/owners, tests/deploy/test_chart_install.py).

A namespace deleted is Terminating for at least five seconds: the kube-controller-manager's namespace
controller waits `namespaceDeletionGracePeriod` (5 s, pkg/controller/namespace/namespace_controller.go,
v1.20 to today) before it deletes anything in it, so that every apiserver has seen the deletion. So a
package deletes its namespaces at its end without waiting, and the next package that installs
cluster-wide parts waits at its start for what it needs gone: then that wait overlaps whatever runs in
between, and the last package's costs nothing.
"""

from __future__ import annotations

from collections.abc import Collection

from mcp_admission.kube import Kube
from tests.support import eventually


def terminating(kube: Kube, among: Collection[str] | None = None) -> list[str]:
    """The namespaces being deleted (all of them, or those named in `among`), sorted."""
    items = kube.request("GET", "/api/v1/namespaces").get("items", [])
    return sorted(
        meta["name"]
        for meta in (item["metadata"] for item in items)
        if meta.get("deletionTimestamp") and (among is None or meta["name"] in among)
    )


def none_terminating(kube: Kube, among: Collection[str] | None = None, timeout: float = 120) -> None:
    """Wait until no namespace is being deleted: none at all (`among` None), for a package whose reconciler
    or webhooks see every namespace and whose tests count what they do; or none of those it installs into
    (`among`), which cannot take new objects while they terminate."""
    left: list[str] = []

    def gone() -> bool:
        left[:] = terminating(kube, among)
        return not left

    try:
        eventually(gone, "no namespace Terminating", timeout=timeout, interval=0.2)
    except AssertionError as failed:
        raise AssertionError(f"{failed}; still Terminating: {', '.join(left)}") from None
