"""API keys over the real ASGI app on both databases: the secret is stored nowhere, revoked and
expired keys get 401, the auth modes and the production profile; and, on a real server, the
refusal to serve a public address without keys and the WebSocket's key."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx

from sliceboard.app import create_app
from sliceboard.config import Settings
from sliceboard.runtime import Runtime
from sliceboard.services import api_keys
from sliceboard.services.api_keys import new_key
from sliceboard.storage.tables import utcnow
from tests.support.auth import store_key, stored_bytes, ws_first
from tests.support.serving import ROOT, start_server

VIEWER = "{ viewer { name scope } }"
CREATE_KEY = (
    "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { __typename "
    "... on CreatedApiKey { secret apiKey { id name prefix } } } }"
)


async def _client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, migrate=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://localhost"
        ) as client,
    ):
        yield client


async def _post(
    client: httpx.AsyncClient,
    key: str | None,
    query: str,
    variables: dict[str, object] | None = None,
) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )


async def test_the_secret_is_stored_nowhere(database_url: str) -> None:
    admin = new_key()
    settings = Settings(
        database_url=database_url, run_jobs=False, auth="required", bootstrap_admin_key=admin
    )
    cli_key = await store_key(database_url, name="from-cli", scope="read")
    async for client in _client(settings):
        answer = await _post(client, admin, CREATE_KEY, {"i": {"name": "ci", "scope": "WRITE"}})
        created = answer.json()["data"]["createApiKey"]
        assert created["__typename"] == "CreatedApiKey"
        api_key = created["secret"]
        assert created["apiKey"]["prefix"] == api_key[: len(created["apiKey"]["prefix"])]
        assert (await _post(client, api_key, VIEWER)).json()["data"]["viewer"] == {
            "name": "ci",
            "scope": "WRITE",
        }
    stored = await stored_bytes(database_url)
    for key in (admin, cli_key, api_key):
        public_id, secret = key[3:15], key[16:]
        assert len(secret) == 40
        assert public_id.encode() in stored  # the dump does hold the keys' rows
        assert secret.encode() not in stored, key
        assert key.encode() not in stored, key


async def test_revoked_and_expired_keys_get_401(database_url: str) -> None:
    admin = new_key()
    settings = Settings(
        database_url=database_url,
        run_jobs=False,
        auth="required",
        bootstrap_admin_key=admin,
        key_cache_seconds=0.2,
    )
    revoked_here = await store_key(database_url, name="revoked-here", scope="read")
    revoked_elsewhere = await store_key(database_url, name="revoked-elsewhere", scope="read")
    expiring = await store_key(
        database_url, name="expiring", scope="read", expires_at=utcnow() + timedelta(days=1)
    )
    async for client in _client(settings):
        for key in (revoked_here, revoked_elsewhere, expiring):
            assert (await _post(client, key, VIEWER)).status_code == 200
        keys = (await _post(client, admin, "{ apiKeys { edges { node { id name } } } }")).json()
        ids = {e["node"]["name"]: e["node"]["id"] for e in keys["data"]["apiKeys"]["edges"]}

        revoke = "mutation($id: ID!) { revokeApiKey(id: $id) { ... on ApiKey { revokedAt } } }"
        answer = await _post(client, admin, revoke, {"id": ids["revoked-here"]})
        assert answer.json()["data"]["revokeApiKey"]["revokedAt"] is not None
        refused = await _post(client, revoked_here, VIEWER)  # at once: this process forgot it
        assert refused.status_code == 401
        assert (
            refused.headers["www-authenticate"]
            == 'Bearer realm="sliceboard", error="invalid_token"'
        )
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

        # Revoked and expired by another process (the CLI): seen once the cached row is stale.
        runtime = Runtime.create(Settings(database_url=database_url, run_jobs=False))
        async with runtime.unit_of_work() as session:
            await api_keys.revoke_api_key(session, key_id=ids["revoked-elsewhere"])
        await runtime.database.dispose()
        await _expire(database_url, "expiring")
        deadline = time.monotonic() + 10
        while True:
            statuses = [
                (await _post(client, key, VIEWER)).status_code
                for key in (revoked_elsewhere, expiring)
            ]
            if statuses == [401, 401] or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        assert statuses == [401, 401]

        for header in ("", "Bearer", "Basic abc", f"Bearer {new_key()}", "Bearer sb_nope"):
            answer = await client.post(
                "/graphql", json={"query": VIEWER}, headers={"authorization": header}
            )
            assert answer.status_code == 401, header
            assert answer.headers["www-authenticate"].startswith("Bearer"), header
        assert (await client.get("/healthz")).status_code == 200  # probes need no key


async def _expire(database_url: str, name: str) -> None:
    """Move a key's expiry into the past (as time would)."""
    import sqlalchemy as sa

    from sliceboard.storage.db import create_engine

    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                sa.text("UPDATE api_key SET expires_at = :t WHERE name = :n"),
                {"t": utcnow() - timedelta(seconds=1), "n": name},
            )
    finally:
        await engine.dispose()


async def test_auto_mode_follows_the_keys(sqlite_url: str) -> None:
    open_settings = Settings(database_url=sqlite_url, run_jobs=False)
    async for client in _client(open_settings):  # loopback, no keys: as before keys existed
        body = (await _post(client, None, VIEWER)).json()
        assert body == {"data": {"viewer": {"name": "anonymous", "scope": "ADMIN"}}}
    key = await store_key(sqlite_url, name="first", scope="read")
    async for client in _client(open_settings):  # a key exists: keys are required
        assert (await _post(client, None, VIEWER)).status_code == 401
        assert (await _post(client, key, VIEWER)).status_code == 200
    async for client in _client(Settings(database_url=sqlite_url, run_jobs=False, auth="off")):
        assert (await _post(client, None, VIEWER)).status_code == 200


async def test_the_production_profile(sqlite_url: str) -> None:
    admin = new_key()
    settings = Settings(
        database_url=sqlite_url, run_jobs=False, env="production", bootstrap_admin_key=admin
    )
    assert settings.log_format == "json" and settings.auth == "auto"
    reader = await store_key(sqlite_url, name="reader", scope="read")
    introspection = "{ __schema { queryType { name } } }"
    async for client in _client(settings):
        assert (await _post(client, None, VIEWER)).status_code == 401
        refused = (await _post(client, reader, introspection)).json()
        assert refused["errors"][0]["extensions"] == {
            "code": "FORBIDDEN",
            "field": "__schema",
            "requiredScope": "admin",
        }
        allowed = (await _post(client, admin, introspection)).json()
        assert allowed == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert "graphiql" not in page.text.lower()
    async for client in _client(Settings(database_url=sqlite_url, run_jobs=False, auth="off")):
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert "graphiql" in page.text.lower()  # outside production the page still loads


def test_a_public_bind_without_keys_refuses_to_start(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"
    command = [sys.executable, "-m", "sliceboard.cli", "serve", "--host", "0.0.0.0"]
    done = subprocess.run(
        [*command, "--port", "1", "--database-url", database],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SLICEBOARD_LOG_LEVEL": "WARNING"},
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "sliceboard keys create" in lines[0] and "--auth off" in lines[0]


def test_a_websocket_needs_a_key_when_keys_are_required(tmp_path: Path) -> None:
    admin = new_key()
    app_origin = "https://app.example"
    env = {
        **os.environ,
        "SLICEBOARD_BOOTSTRAP_ADMIN_KEY": admin,
        "SLICEBOARD_CORS_ORIGINS": app_origin,
    }
    process, base = start_server(
        "--auth",
        "required",
        "--database-url",
        f"sqlite+aiosqlite:///{tmp_path / 'w.db'}",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    subscription = 'subscription { job(id: "1") { id } }'
    try:
        assert ws_first(base, None, subscription) == {"closed": 4403}
        assert ws_first(base, None, subscription, origin=app_origin) == {"closed": 4403}
        assert ws_first(base, new_key(), subscription) == {"closed": 4403}
        assert ws_first(base, admin, subscription, origin="https://evil.example") == {"closed": 403}
        for answer in (
            ws_first(base, admin, subscription),
            ws_first(base, None, subscription, handshake_key=admin),
        ):
            assert answer["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    finally:
        process.terminate()
        process.wait(timeout=20)
