"""What the benchmarks that drive a real server share: one GraphQL call, one created id."""

from __future__ import annotations

from typing import Any

import httpx
import orjson


async def gql(client: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The ``data`` of one POST; any error stops the benchmark with the answer in the message."""
    response = await client.post(
        "/graphql",
        content=orjson.dumps({"query": query, "variables": variables}),
        headers={"content-type": "application/json"},
    )
    body = orjson.loads(response.content)
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"GraphQL failed ({response.status_code}): {str(body)[:2000]}")
    data: dict[str, Any] = body["data"]
    return data


def payload_id(data: dict[str, Any], field: str) -> str:
    """The id of the object a create mutation answered (its payload otherwise, as an error)."""
    payload = data[field]
    if "id" not in payload:
        raise RuntimeError(f"{field}: {payload}")
    return str(payload["id"])
