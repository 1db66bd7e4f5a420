"""--old: previous versions make UPDATEs, so CI catches a StatefulSet serviceName change before the
apiserver refuses it (serviceName is immutable)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .manifests import CONFIGMAP, SERVICE, statefulset, stream
from .runner import check

pytestmark = pytest.mark.usefixtures("in_tmp")


def entries(tmp_path: Path, old: str, new: str, *more: str) -> list[dict[str, Any]]:
    (tmp_path / "old.yaml").write_text(old)
    (tmp_path / "new.yaml").write_text(new)
    run = check("-f", "new.yaml", "--old", "old.yaml", "-o", "json", *more)
    assert run.code in (0, 1), run.stderr
    result: list[dict[str, Any]] = run.json()
    return result


def test_reapplied_original_keeps_the_headless_name(tmp_path: Path) -> None:
    """Live object has the webhook's serviceName; the original manifest is re-applied (GitOps): the
    check predicts the patch back to the old value, without which the apiserver refuses the update."""
    (entry,) = entries(tmp_path, statefulset("mcp-search-headless"), statefulset("search"))
    assert entry["operation"] == "UPDATE"
    assert entry["patch"] == [{"op": "replace", "path": "/spec/serviceName", "value": "mcp-search-headless"}]
    assert entry["warnings"] == [
        {"policy": "statefulset-dns", "message": "kept serviceName mcp-search-headless: it is immutable"}
    ]


def test_serviceName_change_is_predicted_to_be_refused(tmp_path: Path) -> None:
    (entry,) = entries(tmp_path, statefulset("search"), statefulset("search-v2"))
    assert entry["operation"] == "UPDATE" and entry["patch"] == []
    (warning,) = entry["warnings"]
    assert warning["message"].startswith("serviceName is immutable (update refused); recreate")


def test_old_object_without_pod_dns_explains_how_to_recreate(tmp_path: Path) -> None:
    (entry,) = entries(tmp_path, statefulset("search"), statefulset("search"))
    assert entry["patch"] == []
    assert entry["warnings"] == [
        {
            "policy": "statefulset-dns",
            "message": "no pod DNS; recreate: kubectl delete sts --cascade=orphan, re-apply",
        }
    ]


def test_matching_is_by_group_kind_namespace_and_name(tmp_path: Path) -> None:
    other_namespace = statefulset("mcp-search-headless").replace("namespace: tools", "namespace: elsewhere")
    new = stream(statefulset("search"), SERVICE, CONFIGMAP)
    found = entries(tmp_path, stream(other_namespace, SERVICE), new)
    assert [(e["kind"], e["operation"]) for e in found] == [
        ("StatefulSet", "CREATE"),  # its old version is in another namespace
        ("Service", "UPDATE"),  # namespace "default" on both sides (none in the manifest)
        ("ConfigMap", "CREATE"),
    ]
    assert found[0]["patch"] == [
        {"op": "replace", "path": "/spec/serviceName", "value": "mcp-search-headless"}
    ]


def test_text_report_names_the_update(tmp_path: Path) -> None:
    (tmp_path / "old.yaml").write_text(statefulset("search"))
    (tmp_path / "new.yaml").write_text(statefulset("search-v2"))
    run = check("-f", "new.yaml", "--old", "old.yaml", "--strict")
    assert run.code == 1
    assert run.stdout.splitlines()[0].startswith(
        "new.yaml:1 StatefulSet/tools/search statefulset-dns: serviceName is immutable"
    )


def test_broken_old_file_is_unusable_input(tmp_path: Path) -> None:
    (tmp_path / "old.yaml").write_text("apiVersion: v1\nkind: [\n")
    (tmp_path / "new.yaml").write_text(CONFIGMAP)
    run = check("-f", "new.yaml", "--old", "old.yaml")
    assert run.code == 2
    assert run.stderr.startswith("old.yaml:3: not valid YAML:")
