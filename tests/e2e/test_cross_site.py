"""Browsers and other origins: Host allow-list, CORS preflights, CSRF-safe GET, WebSocket Origin.

In-process over the real ASGI app for HTTP; a real server for the WebSocket handshake.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets.exceptions
import websockets.sync.client

from sliceboard.app import create_app
from sliceboard.config import Settings
from sliceboard.cross_site import accepted_hosts
from tests.support.serving import start_server

APP = "https://app.example"
QUERY = "{ datasets { totalCount } }"
MUTATION = 'mutation { createDataset(input: {name: "rebound"}) { __typename } }'


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", run_jobs=False, cors_origins=(APP,)
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http,
    ):
        yield http


async def test_a_forged_host_is_refused_and_writes_nothing(client: httpx.AsyncClient) -> None:
    forged = await client.post(
        "/graphql", json={"query": MUTATION}, headers={"host": "evil.example"}
    )
    assert forged.status_code == 400
    assert forged.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    count = await client.post("/graphql", json={"query": QUERY})
    assert count.json() == {"data": {"datasets": {"totalCount": 0}}}
    for host in ("localhost:8000", "127.0.0.1", "[::1]:8000"):
        answer = await client.post("/graphql", json={"query": QUERY}, headers={"host": host})
        assert answer.status_code == 200, host
    # probes address a server by whatever name reaches it
    assert (await client.get("/healthz", headers={"host": "10.1.2.3"})).status_code == 200


async def test_cors_preflight_for_the_listed_origin_only(client: httpx.AsyncClient) -> None:
    def preflight(origin: str) -> dict[str, str]:
        return {
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        }

    allowed = await client.options("/graphql", headers=preflight(APP))
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == APP
    refused = await client.options("/graphql", headers=preflight("https://evil.example"))
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    answer = await client.post("/graphql", json={"query": QUERY}, headers={"origin": APP})
    assert answer.headers["access-control-allow-origin"] == APP


async def test_a_cross_site_get_cannot_run_a_query(client: httpx.AsyncClient) -> None:
    simple = await client.get("/graphql", params={"query": QUERY})
    assert simple.status_code == 400
    assert "apollo-require-preflight" in simple.json()["errors"][0]["message"]
    for header in ({"apollo-require-preflight": "true"}, {"content-type": "application/json"}):
        answered = await client.get("/graphql", params={"query": QUERY}, headers=header)
        assert answered.json() == {"data": {"datasets": {"totalCount": 0}}}, header
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "GraphiQL" in page.text  # the IDE itself still loads


def test_accepted_hosts_follow_the_bind_address() -> None:
    assert "localhost" in (accepted_hosts(Settings(host="127.0.0.1")) or ())
    assert accepted_hosts(Settings(host="0.0.0.0")) is None  # any: set them for a public bind
    assert accepted_hosts(Settings(host="0.0.0.0", allowed_hosts=("Eval.Example",))) == (
        "eval.example",
    )


@pytest.mark.slow
def test_a_websocket_from_a_foreign_origin_is_refused(tmp_path: Path) -> None:
    process, base = start_server(
        "--database-url",
        f"sqlite+aiosqlite:///{tmp_path / 'w.db'}",
        env={**os.environ, "SLICEBOARD_CORS_ORIGINS": APP},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = base.replace("http", "ws") + "/graphql"
    try:
        for origin in ("https://evil.example", None):
            refused = origin is not None
            try:
                with websockets.sync.client.connect(
                    url,
                    subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
                    origin=websockets.Origin(origin) if origin else None,
                ) as socket:
                    socket.send(json.dumps({"type": "connection_init"}))
                    assert json.loads(socket.recv(timeout=10))["type"] == "connection_ack"
                    assert not refused, origin
            except websockets.exceptions.InvalidStatus as exc:
                assert refused and exc.response.status_code == 403, origin
        for origin in (APP, base):  # the listed origin, and a page of this server itself
            with websockets.sync.client.connect(
                url,
                subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
                origin=websockets.Origin(origin),
            ) as socket:
                socket.send(json.dumps({"type": "connection_init"}))
                assert json.loads(socket.recv(timeout=10))["type"] == "connection_ack"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
