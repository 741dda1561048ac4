"""The HTTP surface: body limit, GraphiQL, health, and the job subscription over graphql-transport-ws."""

from __future__ import annotations

import httpx

from sliceboard.config import Settings
from tests.support.graphql import GraphQLClient


async def test_oversized_body_is_413_before_parsing(
    http: httpx.AsyncClient, app_settings: Settings
) -> None:
    padding = "x" * (app_settings.max_body_bytes + 1)
    response = await http.post(
        "/graphql",
        content=b'{"query": "{ datasets { totalCount } }", "pad": "' + padding.encode() + b'"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"


async def test_streamed_oversized_body_is_413(
    http: httpx.AsyncClient, app_settings: Settings
) -> None:
    chunk = b"x" * 65536

    async def body():  # no Content-Length: the middleware counts what arrives
        for _ in range(app_settings.max_body_bytes // len(chunk) + 2):
            yield chunk

    response = await http.post(
        "/graphql", content=body(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_a_large_upload_below_the_limit_goes_through(
    gql: GraphQLClient, app_settings: Settings
) -> None:
    created = await gql.data(
        'mutation { createDataset(input: {name: "d"}) { ... on Dataset { id } } }'
    )
    items = [{"referenceId": f"item-{i:05d}", "metadata": {"note": "y" * 40}} for i in range(1500)]
    result = await gql.data(
        "mutation($d: ID!, $i: [ItemInput!]!) { upsertItems(datasetId: $d, items: $i) { ... on UpsertResult { new } } }",
        {"d": created["createDataset"]["id"], "i": items},
    )
    assert result["upsertItems"] == {"new": 1500}


async def test_graphiql_and_health(http: httpx.AsyncClient) -> None:
    page = await http.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    health = await http.get("/healthz")
    assert health.json() == {"status": "ok"}
