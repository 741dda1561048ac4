"""The app with its job runner and a files folder of the test's own, over HTTP (ASGI)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from sliceboard.app import create_app
from sliceboard.config import Settings
from tests.support.graphql import GraphQLClient


@pytest.fixture
async def app_settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        run_jobs=True,
        job_poll_seconds=0.05,
        files_dir=str(tmp_path / "files"),
        import_chunk_rows=500,
        max_import_bytes=8 * 1024 * 1024,
    )


@pytest.fixture
async def http(app_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(app_settings, migrate=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://localhost"
        ) as client,
    ):
        yield client


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http)
