"""Real API keys for tests of rate limits, /metrics and the audit log over HTTP: stored in the
test's database through the key service (as ``sliceboard keys create`` does), by name, once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from sliceboard.config import Settings
from sliceboard.runtime import Runtime
from sliceboard.services import api_keys


class Keys:
    """The keys of one test, by name: ``await keys.header("ci", "write")``."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._made: dict[str, tuple[int, str]] = {}

    async def _key(self, name: str, scope: str) -> tuple[int, str]:
        if name not in self._made:
            runtime = Runtime.create(Settings(database_url=self.database_url, run_jobs=False))
            try:
                async with runtime.unit_of_work() as session:
                    secret = await api_keys.server_secret(session, configured="")
                    stored, plaintext = await api_keys.create_api_key(
                        session,
                        secret=secret,
                        name=name,
                        scope=scope,
                        dataset_ids=None,
                        expires_at=None,
                    )
            finally:
                await runtime.close()
            self._made[name] = (stored.id, plaintext)
        return self._made[name]

    async def header(self, name: str, scope: str) -> dict[str, str]:
        return {"authorization": f"Bearer {(await self._key(name, scope))[1]}"}

    def id(self, name: str) -> str:
        """The GraphQL id of a key made earlier."""
        return str(self._made[name][0])


def auth_required(settings: Settings) -> Settings:
    return settings.with_overrides(auth="required")


@asynccontextmanager
async def app_client(
    settings: Settings, headers: dict[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app (lifespan entered) over httpx; ``headers`` (e.g. a key) go with every request
    that does not name its own."""
    from sliceboard.app import create_app

    app = create_app(settings, migrate=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://localhost", headers=headers
        ) as client,
    ):
        yield client


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """POSTs a document; the whole body (status 200 asserted)."""
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
