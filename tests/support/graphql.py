"""GraphQL from a test: over HTTP to the real app (``GraphQLClient``), or straight on the schema
with no HTTP, as strawberry's testing guide does (``Executor``)."""

from __future__ import annotations

from typing import Any

import httpx
import strawberry

from sliceboard.principal import ANONYMOUS_ADMIN, Principal
from sliceboard.runtime import Runtime
from sliceboard.schema.context import Context
from sliceboard.schema.schema import build_schema

#: The selection of every ``CocoSummary`` field, in pycocotools' ``stats`` order.
COCO_SUMMARY_FIELDS = (
    "ap ap50 ap75 apSmall apMedium apLarge ar1 ar10 ar100 arSmall arMedium arLarge"
)


class GraphQLClient:
    """POSTs GraphQL documents; ``data`` asserts there were no top-level errors."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.post(query, variables)
        assert not body.get("errors"), body["errors"]
        result: dict[str, Any] = body["data"]
        return result


class Executor:
    def __init__(self, runtime: Runtime, principal: Principal = ANONYMOUS_ADMIN) -> None:
        self.runtime = runtime
        self.principal = principal
        self.schema: strawberry.Schema = build_schema(runtime.settings)

    async def run(
        self, query: str, variables: dict[str, Any] | None = None
    ) -> tuple[Any, list[dict[str, Any]]]:
        """(data, errors as the client sees them)."""
        result = await self.schema.execute(
            query,
            variable_values=variables,
            context_value=Context.create(self.runtime, principal=self.principal),
        )
        return result.data, [dict(error.formatted) for error in result.errors or []]

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        data, errors = await self.run(query, variables)
        assert errors == []
        return data
