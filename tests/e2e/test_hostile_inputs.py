"""Inputs that once reached INTERNAL (issue 11 §4, §7): each is a typed error naming its field,
identical on SQLite and PostgreSQL, and a refused batch writes nothing."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest


class GraphQLClient:
    """Posts with ``json.dumps`` (ASCII escapes), which can carry a lone surrogate as ``\\ud800``
    where httpx's own encoder refuses it."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        body = json.dumps({"query": query, "variables": variables or {}})
        response = await self.http.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        body = await self.post(query, variables)
        assert not body.get("errors"), body["errors"]
        return body["data"]


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http)


ITEMS = (
    "mutation($d: ID!, $rows: [ItemInput!]!) { upsertItems(datasetId: $d, items: $rows) "
    "{ __typename ... on InvalidInputError { issues { path message } } } }"
)
ANNOTATIONS = (
    "mutation($d: ID!, $rows: [AnnotationInput!]!) { upsertAnnotations(datasetId: $d, "
    "annotations: $rows) { __typename ... on InvalidInputError { issues { path message } } } }"
)
COUNT = "query($d: ID!) { dataset(id: $d) { ... on Dataset { items(first: 1) { totalCount } } } }"


async def _dataset(gql: GraphQLClient, name: str = "d") -> str:
    created = await gql.data(
        "mutation($n: String!) { createDataset(input: {name: $n}) { ... on Dataset { id } } }",
        {"n": name},
    )
    return str(created["createDataset"]["id"])


async def _issues(gql: GraphQLClient, mutation: str, dataset_id: str, rows: Any) -> list[str]:
    """Issue paths of a refused upload (asserting it was refused, not a top-level error)."""
    payload = next(iter((await gql.data(mutation, {"d": dataset_id, "rows": rows})).values()))
    assert payload["__typename"] == "InvalidInputError", payload
    return [issue["path"] for issue in payload["issues"]]


async def _item_count(gql: GraphQLClient, dataset_id: str) -> int:
    return int((await gql.data(COUNT, {"d": dataset_id}))["dataset"]["items"]["totalCount"])


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


async def test_text_with_nul_or_a_lone_surrogate_is_refused_at_its_field(
    gql: GraphQLClient,
) -> None:
    dataset_id = await _dataset(gql)
    rows = [
        {"referenceId": "ok"},
        {"referenceId": "r\ud800"},
        {"referenceId": "n\x00ul"},
        {"referenceId": "m1", "metadata": {"k": "v\ud800"}},
        {"referenceId": "m2", "metadata": {"k\x00": 1}},
        {"referenceId": "m3", "metadata": {"list": ["x", "\x00"]}},
        {"referenceId": "u", "url": "http://x/\x00"},
    ]
    assert await _issues(gql, ITEMS, dataset_id, rows) == [
        "items[1].referenceId",
        "items[2].referenceId",
        "items[3].metadata.k",
        "items[4].metadata.k\x00",
        "items[5].metadata.list[1]",
        "items[6].url",
    ]
    assert await _item_count(gql, dataset_id) == 0
    refused = await gql.data(
        "mutation($n: String!) { createDataset(input: {name: $n}) "
        "{ __typename ... on InvalidInputError { issues { path } } } }",
        {"n": "bad\ud800"},
    )
    assert refused["createDataset"]["issues"] == [{"path": "input.name"}]


async def test_annotation_names_with_a_surrogate_are_refused(gql: GraphQLClient) -> None:
    dataset_id = await _dataset(gql)
    await gql.data(ITEMS, {"d": dataset_id, "rows": [{"referenceId": "a"}]})
    box = {"x": 0, "y": 0, "width": 1, "height": 1}
    rows = [
        {"referenceId": "a", "annotationId": "g\udc00", "label": "car", "box": box},
        {"referenceId": "a", "annotationId": "h", "label": "c\x00r", "box": box},
    ]
    assert await _issues(gql, ANNOTATIONS, dataset_id, rows) == [
        "annotations[0].annotationId",
        "annotations[1].label",
    ]


async def test_metadata_depth_size_and_integers_are_bounded(gql: GraphQLClient) -> None:
    dataset_id = await _dataset(gql)
    rows = [
        {"referenceId": "deep32", "metadata": _nested(32)},
        {"referenceId": "deep255", "metadata": _nested(255)},
        {"referenceId": "big", "metadata": {"n": 2**64 + 5}},
        {"referenceId": "small", "metadata": {"n": -(2**63) - 1}},
        {"referenceId": "huge", "metadata": {"s": "x" * 70_000}},
        {"referenceId": "edge", "metadata": {"n": 2**63 - 1, "m": -(2**63)}},
    ]
    paths = await _issues(gql, ITEMS, dataset_id, rows)
    assert paths == [
        "items[1].metadata" + ".a" * 32,
        "items[2].metadata.n",
        "items[3].metadata.n",
        "items[4].metadata",
    ]
    assert await _item_count(gql, dataset_id) == 0
    stored = [rows[0], rows[5]]
    await gql.data(ITEMS, {"d": dataset_id, "rows": stored})
    back = await gql.data(
        'query($d: ID!) { dataset(id: $d) { items(first: 10, filter: {referenceIds: ["edge"]}) '
        "{ edges { node { metadata } } } } }",
        {"d": dataset_id},
    )
    [edge] = back["dataset"]["items"]["edges"]
    assert edge["node"]["metadata"] == {"n": 2**63 - 1, "m": -(2**63)}


async def test_geometry_beyond_its_bounds_is_refused(gql: GraphQLClient) -> None:
    dataset_id = await _dataset(gql)
    await gql.data(ITEMS, {"d": dataset_id, "rows": [{"referenceId": "a"}]})

    def row(key: str, **geometry: Any) -> dict[str, Any]:
        return {"referenceId": "a", "annotationId": key, "label": "car", **geometry}

    box = {"x": 0, "y": 0, "width": 1, "height": 1}
    rows = [
        row("ok", box={**box, "width": 1e7, "rotation": 6.0}),
        row("w", box={**box, "width": 1e308}),
        row("x", box={**box, "x": -2e7}),
        row("r", box={**box, "rotation": 1e300}),
        row("rle", segmentation={"rle": {"counts": [0, 2**31 - 1], "size": [2**31 - 1, 1]}}),
        row("poly", polygon={"vertices": [{"x": 0, "y": 0}, {"x": 1e9, "y": 0}, {"x": 0, "y": 1}]}),
        row("kp", keypoints={"points": [{"x": 0, "y": 1e300, "visibility": 2}]}),
        row(
            "cub",
            cuboid={
                "position": {"x": 0, "y": 0, "z": 0},
                "dimensions": {"x": 1, "y": 1, "z": 1e12},
                "yaw": -1e4,
            },
        ),
        row("area", box=box, area=1e300),
    ]
    assert await _issues(gql, ANNOTATIONS, dataset_id, rows) == [
        "annotations[1].box.width",
        "annotations[2].box.x",
        "annotations[3].box.rotation",
        "annotations[4].segmentation.rle.size",
        "annotations[5].polygon.vertices[1].x",
        "annotations[6].keypoints.points[0].y",
        "annotations[7].cuboid.dimensions.z",
        "annotations[7].cuboid.yaw",
        "annotations[8].area",
    ]


FILTERED = (
    "query($d: ID!, $f: ItemFilter) { dataset(id: $d) { ... on Dataset { "
    "items(first: 1, filter: $f) { totalCount } } } }"
)


async def _filter_error(gql: GraphQLClient, query: str, variables: dict[str, Any]) -> Any:
    body = await gql.post(query, variables)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "INVALID_INPUT", error
    return [issue["path"] for issue in error["extensions"]["issues"]]


@pytest.mark.parametrize("literal", ["1e400", "-1e400", "1" + "0" * 400])
async def test_inexact_filter_literals_are_invalid_input(gql: GraphQLClient, literal: str) -> None:
    dataset_id = await _dataset(gql)
    query = (
        "query($d: ID!) { dataset(id: $d) { ... on Dataset { items(first: 1, filter: "
        f'{{metadata: {{field: "hour", op: GTE, value: {literal}}}}}) {{ totalCount }} }} }} }}'
    )
    assert await _filter_error(gql, query, {"d": dataset_id}) == ["filter.metadata.value"]


async def test_nan_and_long_paths_in_filter_variables_are_invalid_input(
    gql: GraphQLClient,
) -> None:
    dataset_id = await _dataset(gql)
    path = ".".join(["k"] * 150)
    assert await _filter_error(
        gql, FILTERED, {"d": dataset_id, "f": {"metadata": {"field": path, "op": "EXISTS"}}}
    ) == ["filter.metadata.field"]
    # NaN is no JSON, but Python's json.dumps writes it; the server reads it leniently.
    nan = {"metadata": {"field": "h", "op": "IN", "value": [1, float("nan")]}}
    assert await _filter_error(gql, FILTERED, {"d": dataset_id, "f": nan}) == [
        "filter.metadata.value[1]"
    ]
