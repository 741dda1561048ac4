"""SQLite as the app runs it: the pragmas hold on the app's own connections, and concurrent
upload mutations over HTTP queue on the write lock instead of failing with "database is locked"."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from starlette.applications import Starlette

from sliceboard.app import create_app
from sliceboard.config import Settings
from sliceboard.runtime import Runtime
from sliceboard.storage.db import SQLITE_BUSY_TIMEOUT_MS


@pytest.fixture
async def app(sqlite_url: str) -> AsyncIterator[Starlette]:
    app = create_app(Settings(database_url=sqlite_url, run_jobs=False), migrate=False)
    async with app.router.lifespan_context(app):
        yield app


async def test_pragmas_on_the_apps_engine(app: Starlette) -> None:
    runtime: Runtime = app.state.runtime
    async with runtime.database.connect() as connection:
        values = {
            pragma: (await connection.execute(text(f"PRAGMA {pragma}"))).scalar_one()
            for pragma in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
        }
    assert values == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "synchronous": 1,
        "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
    }


async def test_concurrent_uploads_all_succeed(app: Starlette) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        created = await client.post(
            "/graphql",
            json={
                "query": 'mutation { createDataset(input: {name: "d"}) { ... on Dataset { id } } }'
            },
        )
        dataset_id = created.json()["data"]["createDataset"]["id"]
        upsert = """mutation($d: ID!, $items: [ItemInput!]!, $a: [AnnotationInput!]!) {
          items: upsertItems(datasetId: $d, items: $items) { __typename ... on UpsertResult { new } }
          annotations: upsertAnnotations(datasetId: $d, annotations: $a) { __typename ... on UpsertResult { new } } }"""

        async def upload(worker: int) -> dict[str, object]:
            refs = [f"w{worker}-{i}" for i in range(50)]
            variables = {
                "d": dataset_id,
                "items": [{"referenceId": ref, "metadata": {"worker": worker}} for ref in refs],
                "a": [
                    {
                        "referenceId": ref,
                        "annotationId": "a",
                        "label": "car",
                        "box": {"x": 0, "y": 0, "width": 1, "height": 1},
                    }
                    for ref in refs
                ],
            }
            response = await client.post("/graphql", json={"query": upsert, "variables": variables})
            assert response.status_code == 200
            body: dict[str, object] = response.json()
            return body

        results = await asyncio.gather(*(upload(worker) for worker in range(8)))
        for body in results:
            assert "errors" not in body, body
            assert body["data"] == {
                "items": {"__typename": "UpsertResult", "new": 50},
                "annotations": {"__typename": "UpsertResult", "new": 50},
            }
        counted = await client.post(
            "/graphql",
            json={
                "query": "query($d: ID) { dataset(id: $d) { items { totalCount } annotations { totalCount } } }",
                "variables": {"d": dataset_id},
            },
        )
        assert counted.json()["data"]["dataset"] == {
            "items": {"totalCount": 400},
            "annotations": {"totalCount": 400},
        }
