"""One real server per backend for each test module of the client (``served``), on a database
of its own; tests keep apart by unique names (``unique``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.client_servers import fresh_database, server_on

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def backend_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory.mktemp("client"), sqlite_template) as url:
        yield url


@pytest.fixture(scope="module")
def served(backend_url: str) -> Iterator[str]:
    """The base URL of a server on this module's database (jobs run in it)."""
    with server_on(backend_url) as base:
        yield base


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]
