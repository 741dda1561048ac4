"""ASGI middleware that answers 401 to an HTTP request without a usable API key and hands the
request's Principal on as ``request.state.principal`` (rate limits, /metrics and the audit log
read it; GraphQL resolvers see it as ``info.context.principal``).

Not gated: ``PUBLIC_PATHS`` (health probes, the Insights page's shell), ``PUBLIC_PREFIXES``
(the page's routes and static assets, which hold no data) and the app's own additions (/metrics when its
access is ``open``) and a GET of /graphql that runs nothing (the
GraphiQL page, itself no data; it is off in production). WebSocket handshakes pass: their key
comes in graphql-transport-ws' ``connection_init`` (schema/http.py). A 401 carries
``WWW-Authenticate: Bearer`` (RFC 6750) and a GraphQL error body with code UNAUTHENTICATED.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from sliceboard.authentication import Authenticator, Unauthenticated

PUBLIC_PATHS = frozenset({"/healthz", "/"})
# The Insights page's shell and assets (no data in them): it must load to ask for a key.
PUBLIC_PREFIXES = ("/runs/", "/assets/", "/graphiql-assets/")
REALM = 'Bearer realm="sliceboard"'


class AuthGate:
    def __init__(
        self, app: ASGIApp, authenticator: Authenticator, public_paths: frozenset[str] = frozenset()
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.public_paths = PUBLIC_PATHS | public_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or _is_public(scope["path"], self.public_paths)
            or _opens_graphiql(scope)
        ):
            await self.app(scope, receive, send)
            return
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        try:
            principal = await self.authenticator.principal(authorization)
        except Unauthenticated as refused:
            await _unauthorized(send, refused)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


def _is_public(path: str, public_paths: frozenset[str]) -> bool:
    return path in public_paths or path.startswith(PUBLIC_PREFIXES)


def _opens_graphiql(scope: Scope) -> bool:
    if scope["method"] != "GET" or scope["path"] != "/graphql":
        return False
    return "query" not in parse_qs(scope.get("query_string", b"").decode("latin-1"))


async def _unauthorized(send: Send, refused: Unauthenticated) -> None:
    challenge = REALM if refused.error is None else f'{REALM}, error="{refused.error}"'
    body = json.dumps(
        {"errors": [{"message": refused.message, "extensions": {"code": "UNAUTHENTICATED"}}]}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", challenge.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
