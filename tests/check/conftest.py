"""Fixtures for check's tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty directory: check reports paths relative to it, and nothing lands in the tree.
    A module asks for it with `pytestmark = pytest.mark.usefixtures("in_tmp")`."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
