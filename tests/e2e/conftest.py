"""The real ASGI app over HTTP (httpx + ASGITransport, lifespan entered), on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from sliceboard.app import create_app
from sliceboard.config import Settings
from tests.support.graphql import GraphQLClient


@pytest.fixture
async def app_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, run_jobs=False, max_body_bytes=256 * 1024)


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
