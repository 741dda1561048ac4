"""NaN and Infinity are not JSON, but Python's json.dumps writes them: such a body must still be
answered at the offending field, never as a failed request or a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx

MUTATION = (
    "mutation($d: ID!, $rows: [AnnotationInput!]!) { upsertAnnotations(datasetId: $d, annotations: $rows) "
    "{ __typename ... on InvalidInputError { issues { path message } } } }"
)


async def _dataset(http: httpx.AsyncClient) -> str:
    created = await http.post(
        "/graphql",
        json={"query": 'mutation { createDataset(input: {name: "d"}) { ... on Dataset { id } } }'},
    )
    dataset_id = str(created.json()["data"]["createDataset"]["id"])
    await http.post(
        "/graphql",
        json={
            "query": 'mutation($d: ID!) { upsertItems(datasetId: $d, items: [{referenceId: "a"}]) { __typename } }',
            "variables": {"d": dataset_id},
        },
    )
    return dataset_id


async def _post_with(
    http: httpx.AsyncClient, dataset_id: str, row: dict[str, Any], literal: str
) -> Any:
    """Posts ``row`` with the string "__X__" in it replaced by the bare JSON-ish ``literal``."""
    body = json.dumps({"query": MUTATION, "variables": {"d": dataset_id, "rows": [row]}})
    response = await http.post(
        "/graphql",
        content=body.replace('"__X__"', literal),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200
    return response.json()


async def test_nan_in_a_float_field_names_the_variable_path(http: httpx.AsyncClient) -> None:
    dataset_id = await _dataset(http)
    row = {
        "referenceId": "a",
        "annotationId": "g",
        "label": "x",
        "box": {"x": "__X__", "y": 0, "width": 1, "height": 1},
    }
    error = (await _post_with(http, dataset_id, row, "NaN"))["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "$rows" in error["message"] and "[0].box.x" in error["message"]


async def test_infinity_inside_metadata_is_an_invalid_input_payload(
    http: httpx.AsyncClient,
) -> None:
    dataset_id = await _dataset(http)
    row = {
        "referenceId": "a", "annotationId": "g", "label": "x", "metadata": {"score": "__X__"},
        "box": {"x": 0, "y": 0, "width": 1, "height": 1},
    }  # fmt: skip
    payload = (await _post_with(http, dataset_id, row, "Infinity"))["data"]["upsertAnnotations"]
    assert payload["__typename"] == "InvalidInputError"
    assert [issue["path"] for issue in payload["issues"]] == ["annotations[0].metadata.score"]
