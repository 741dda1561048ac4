"""Helpers for tests of API keys: keys stored straight through the service, GraphQL over HTTP
and graphql-transport-ws with a key, and a dump of every stored byte of a database."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import websockets.exceptions
import websockets.sync.client

from sliceboard.config import Settings
from sliceboard.runtime import Runtime
from sliceboard.services import api_keys
from sliceboard.storage.db import create_engine


async def store_key(
    database_url: str,
    *,
    name: str,
    scope: str,
    dataset_ids: Sequence[int] | None = None,
    expires_at: datetime | None = None,
) -> str:
    """A new key stored in the database (as ``sliceboard keys create`` does); its plaintext."""
    runtime = Runtime.create(Settings(database_url=database_url, run_jobs=False))
    try:
        async with runtime.unit_of_work() as session:
            secret = await api_keys.server_secret(session, configured="")
            _, plaintext = await api_keys.create_api_key(
                session,
                secret=secret,
                name=name,
                scope=scope,
                dataset_ids=[str(i) for i in dataset_ids] if dataset_ids is not None else None,
                expires_at=expires_at,
            )
    finally:
        await runtime.close()
    return plaintext


def graphql(
    base: str, key: str | None, query: str, variables: dict[str, Any] | None = None
) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.post(
        f"{base}/graphql",
        json={"query": query, "variables": variables or {}},
        headers=headers,
        timeout=30,
    )


def data(base: str, key: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    response = graphql(base, key, query, variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


def ws_first(
    base: str,
    key: str | None,
    query: str,
    variables: dict[str, Any] | None = None,
    origin: str | None = None,
    handshake_key: str | None = None,
) -> dict[str, Any]:
    """The first answer to one operation over graphql-transport-ws: ``{"closed": code}`` when the
    server refuses the connection (``connection_init``), else the ``next``/``error`` message."""
    payload: dict[str, Any] = {"authorization": f"Bearer {key}"} if key else {}
    try:
        with websockets.sync.client.connect(
            base.replace("http", "ws") + "/graphql",
            subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
            origin=websockets.Origin(origin) if origin else None,
            additional_headers=(
                {"authorization": f"Bearer {handshake_key}"} if handshake_key else None
            ),
        ) as ws:
            ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            ack = json.loads(ws.recv(timeout=10))
            assert ack["type"] == "connection_ack", ack
            body = {"query": query, "variables": variables or {}}
            ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": body}))
            message: dict[str, Any] = json.loads(ws.recv(timeout=10))
            return message
    except websockets.exceptions.ConnectionClosed as closed:
        assert closed.rcvd is not None
        return {"closed": closed.rcvd.code}
    except websockets.exceptions.InvalidStatus as refused:
        return {"closed": refused.response.status_code}


async def _table_text(url: str) -> str:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            names = (
                await connection.exec_driver_sql(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                )
            ).scalars()
            parts: list[str] = []
            for name in list(names):
                rows = await connection.execute(sa.text(f'SELECT t::text FROM "{name}" t'))
                parts.extend(str(row[0]) for row in rows)
            return "\n".join(parts)
    finally:
        await engine.dispose()


async def stored_bytes(database_url: str) -> bytes:
    """Everything the database holds: the SQLite file with its WAL and journal, or every row of
    every PostgreSQL table as text."""
    if database_url.startswith("sqlite"):
        path = Path(database_url.split("///", 1)[1])
        siblings = [path, *(path.with_name(path.name + s) for s in ("-wal", "-journal", "-shm"))]
        return b"".join(p.read_bytes() for p in siblings if p.exists())
    return (await _table_text(database_url)).encode()
