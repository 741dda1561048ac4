"""A stand-in for the authentication layer (issue 12's keys): it puts the principal a test names
in the ``x-test-principal`` header (``id:name:scope``) where the real one puts it,
``scope["state"]["principal"]``, so rate limits, /metrics and the audit log can be tested over
HTTP before (and independently of) the key store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from sliceboard.config import Settings

HEADER = b"x-test-principal"


@dataclass(frozen=True)
class TestPrincipal:
    key_id: int | None
    name: str
    scope: str
    dataset_ids: tuple[int, ...] | None = None


def header(key_id: int, name: str, scope: str) -> dict[str, str]:
    return {HEADER.decode(): f"{key_id}:{name}:{scope}"}


class WithPrincipals:
    """Outermost ASGI wrapper: the header's principal, as the auth middleware would set it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            raw = dict(scope["headers"]).get(HEADER)
            if raw is not None:
                key_id, name, role = raw.decode().split(":")
                state = dict(scope.get("state") or {})
                state["principal"] = TestPrincipal(int(key_id), name, role)
                scope = {**scope, "state": state}
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class AuthRequiredSettings(Settings):
    """Settings with the auth layer's switch on (``auth``: required | off)."""

    auth: str = field(default="required")


@asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app (lifespan entered) behind ``WithPrincipals``, over httpx."""
    from sliceboard.app import create_app

    app = create_app(settings, migrate=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=WithPrincipals(app)), base_url="http://localhost"
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
