"""The /graphql endpoint: HTTP (GraphiQL on GET from a browser) and graphql-transport-ws."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from schema.context import Context
from schema.schema import build_schema
from server.runtime import Runtime


class SliceboardGraphQL(GraphQL[Context, None]):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(
            build_schema(runtime.settings),
            graphql_ide="graphiql",
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        )
        self.runtime = runtime

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context.create(self.runtime, request=request, response=response)


def make_graphql_app(runtime: Runtime) -> GraphQL[Context, None]:
    return SliceboardGraphQL(runtime)
