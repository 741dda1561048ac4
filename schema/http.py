"""The /graphql endpoint: HTTP (GraphiQL on GET from a browser) and graphql-transport-ws.

Who a request is: over HTTP the principal ``sliceboard.auth_gate`` put in
``request.state.principal``; over a WebSocket the key in ``connection_init``'s payload
(``{"authorization": "Bearer <key>"}``), checked before the connection is acknowledged, so no
subscription starts without it: a missing or unusable key closes the socket with 4403. With
authentication off every request is the anonymous admin and the Origin check below is the
WebSocket's guard. GraphiQL is off under ``SLICEBOARD_ENV=production``.

A request the transport refuses (a body that is not a JSON object or batch, invalid UTF-8, JSON
nested past the parser's depth, an unsupported method or content type) is answered with its
HTTP status and a GraphQL error body ``{"errors": [{"message", "extensions": {"code":
"BAD_REQUEST"}}]}``: never a 500, never a traceback in the log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from sliceboard.authentication import Authenticator, Unauthenticated
from sliceboard.input_limits import InputLimits, use_input_limits
from sliceboard.principal import Principal
from sliceboard.runtime import Runtime
from sliceboard.schema.context import Context
from sliceboard.schema.schema import build_schema
from sliceboard.web import local_graphiql_html


class SliceboardGraphQL(GraphQL[Context, None]):
    def __init__(
        self, runtime: Runtime, authenticator: Authenticator, ide_directory: Path | None = None
    ) -> None:
        super().__init__(
            build_schema(runtime.settings, runtime.metrics),
            graphql_ide=None if runtime.settings.production else "graphiql",
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
            # strawberry refuses a WebSocket handshake whose Origin is another site's unless
            # it is listed: the CORS origins are the pages allowed to read answers anyway
            allowed_origins=runtime.settings.cors_origins,
            # GraphQL multipart requests carry importFile's file and semantic masks as file
            # parts; cross_site.py refuses a multipart POST without a preflight header, so
            # another site's form cannot send one
            multipart_uploads_enabled=True,
        )
        self.runtime = runtime
        self.authenticator = authenticator
        self.input_limits = InputLimits.of(runtime.settings)
        template = super().graphql_ide_html
        local = None if ide_directory is None else local_graphiql_html(template, ide_directory)
        self._ide_html = local or template

    @property
    def graphql_ide_html(self) -> str:
        """GraphiQL with its assets served here when the page was built (no CDN needed)."""
        return self._ide_html

    def decode_json(self, data: str | bytes) -> object:
        """orjson for the common body (a 5,000-row upload parses ~8% faster); bodies it refuses
        (NaN or Infinity literals) or reads inexactly (integers past 64 bits) go to the standard
        parser, so such a value still reaches validation and is reported at its field."""
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        try:
            decoded = _standard_json(raw) if _may_hold_huge_integer(raw) else orjson.loads(raw)
        except orjson.JSONDecodeError:
            decoded = _standard_json(raw)
        if not isinstance(decoded, dict | list):
            raise HTTPException(400, "The request body must be a JSON object (or a batch list).")
        return decoded

    def encode_json(self, data: object) -> str:
        """orjson: a page of 100 items with their annotations (~200 KB) took strawberry's
        ``json.dumps`` ~12 ms of the event loop, orjson under 1 ms. Text, not bytes: the
        websocket transport sends bytes as binary frames, which graphql-transport-ws clients
        refuse. What orjson refuses (an integer past 64 bits, a non-string key) goes to the
        standard encoder as before."""
        try:
            return orjson.dumps(data).decode()
        except TypeError:
            return json.dumps(data, separators=(",", ":"))

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:  # type: ignore[override]
        """Strawberry's run, with the transport's refusals answered as GraphQL error bodies."""
        try:
            return await super().run(request, context, root_value)
        except HTTPException as exc:
            if isinstance(request, WebSocket):
                raise
            return bad_request(exc.status_code, exc.reason)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        use_input_limits(self.input_limits)  # this request's task and the tasks it starts
        principal: Principal | None = None
        if isinstance(request, WebSocket):
            if not self.authenticator.required:
                principal = await self.authenticator.principal(None)
        else:
            principal = getattr(request.state, "principal", None)
        return Context.create(self.runtime, request=request, response=response, principal=principal)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Accept the connection only with a usable key when keys are required."""
        if not self.authenticator.required:
            return await super().on_ws_connect(context)
        try:
            context.principal = await self.authenticator.principal(
                _ws_authorization(context.connection_params)
                # a client that cannot put it in the payload may send it with the handshake
                or context.request.headers.get("authorization")
            )
        except Unauthenticated as refused:
            raise ConnectionRejectionError({"message": refused.message}) from None
        return await super().on_ws_connect(context)


_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_TWENTY_DIGITS = b"0" * 20


def _may_hold_huge_integer(data: bytes) -> bool:
    """orjson reads an integer beyond 64 bits as a float (2**70 becomes 1.18e21) without a word;
    the shortest such integer has 20 digits, so a body with 20 digits in a row goes to the
    standard parser, which keeps it exact for validation to refuse (~3 ms per MB to look)."""
    return _TWENTY_DIGITS in data.translate(_DIGITS)


def _standard_json(data: str | bytes) -> object:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(400, "The request body is not valid UTF-8 JSON.") from exc
    except RecursionError as exc:
        raise HTTPException(400, "The request body nests JSON too deeply.") from exc


def _ws_authorization(params: dict[str, Any] | None) -> str | None:
    """``{"authorization": "Bearer <key>"}`` (any case), or ``{"apiKey": "<key>"}``."""
    for name, value in (params or {}).items():
        if isinstance(value, str) and name.lower() == "authorization":
            return value
        if isinstance(value, str) and name.lower() in ("apikey", "api_key"):
            return f"Bearer {value}"
    return None


def bad_request(status: int, message: str) -> JSONResponse:
    body = {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}
    return JSONResponse(body, status_code=status)


def make_graphql_app(
    runtime: Runtime, authenticator: Authenticator, ide_directory: Path | None = None
) -> GraphQL[Context, None]:
    return SliceboardGraphQL(runtime, authenticator, ide_directory)
