"""The real ASGI app over HTTP (httpx + ASGITransport, lifespan entered), on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sliceboard.app import create_app
from sliceboard.config import Settings


class GraphQLClient:
    """POSTs GraphQL documents; ``data`` asserts there were no top-level errors."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.post(query, variables)
        assert not body.get("errors"), body["errors"]
        result: dict[str, Any] = body["data"]
        return result


@pytest.fixture
async def app_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, run_jobs=False, max_body_bytes=256 * 1024)


@pytest.fixture
async def http(app_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(app_settings, migrate=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        yield client


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http)
