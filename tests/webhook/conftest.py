"""Fixtures of the webhook tests: a CA and serving certificate of their own, one running server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .support import Served, make_tls, serving


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tls(tmp_path_factory.mktemp("webhook-tls"))


@pytest.fixture(scope="module")
def served(tls: Path) -> Iterator[Served]:
    """The real server with the default configuration, shared by a module's tests."""
    with serving(tls) as running:
        yield running


@pytest.fixture
def client(served: Served) -> Iterator[httpx.Client]:
    with served.client() as http:
        yield http
