"""The /graphql endpoint: HTTP (GraphiQL on GET from a browser) and graphql-transport-ws.

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
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET

from sliceboard.input_limits import InputLimits, use_input_limits
from sliceboard.runtime import Runtime
from sliceboard.schema.context import Context
from sliceboard.schema.schema import build_schema
from sliceboard.web import local_graphiql_html


class SliceboardGraphQL(GraphQL[Context, None]):
    def __init__(self, runtime: Runtime, ide_directory: Path | None = None) -> None:
        super().__init__(
            build_schema(runtime.settings),
            graphql_ide="graphiql",
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
            # strawberry refuses a WebSocket handshake whose Origin is another site's unless
            # it is listed: the CORS origins are the pages allowed to read answers anyway
            allowed_origins=runtime.settings.cors_origins,
        )
        self.runtime = runtime
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
        return Context.create(self.runtime, request=request, response=response)


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


def bad_request(status: int, message: str) -> JSONResponse:
    body = {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}
    return JSONResponse(body, status_code=status)


def make_graphql_app(runtime: Runtime, ide_directory: Path | None = None) -> GraphQL[Context, None]:
    return SliceboardGraphQL(runtime, ide_directory)
