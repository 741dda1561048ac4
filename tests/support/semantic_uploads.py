"""Semantic masks over HTTP: a dataset with sized items, a run, and batches whose masks travel
as file parts of a GraphQL multipart request (the spec apollo-upload-client speaks)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

ERRORS = "... on Error { message } ... on InvalidInputError { issues { path message } }"
UPSERT = "... on UpsertResult { new updated ignored }"


async def post_multipart(
    http: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any],
    files: dict[str, bytes],
    *,
    preflight: bool = True,
) -> httpx.Response:
    """``files``: variable path (``rows.0.semanticSegmentation.mask``) -> PNG bytes."""
    names = {str(k): path for k, path in enumerate(files)}
    data = {
        "operations": orjson.dumps({"query": query, "variables": variables}).decode(),
        "map": orjson.dumps({k: [f"variables.{path}"] for k, path in names.items()}).decode(),
    }
    parts = {k: (f"mask{k}.png", files[path], "image/png") for k, path in names.items()}
    headers = {"apollo-require-preflight": "true"} if preflight else {}
    return await http.post("/graphql", data=data, files=parts, headers=headers)


async def graphql(http: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> Any:
    response = await http.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body["errors"]
    return body["data"]


async def make_dataset(
    http: httpx.AsyncClient,
    sizes: dict[str, tuple[int, int]],
    *,
    ignore_index: int = 0,
    metadata: dict[str, dict[str, Any]] | None = None,
    name: str = "semantic",
) -> str:
    """A dataset whose items have the given (height, width); its id."""
    data = await graphql(
        http,
        f"mutation($n: String!, $i: Int) {{ createDataset(input: {{name: $n, segmentationIgnoreIndex: $i}}) {{ ... on Dataset {{ id }} {ERRORS} }} }}",
        {"n": name, "i": ignore_index},
    )
    dataset_id = str(data["createDataset"]["id"])
    items = [
        {"referenceId": ref, "height": h, "width": w, "metadata": (metadata or {}).get(ref)}
        for ref, (h, w) in sizes.items()
    ]
    data = await graphql(
        http,
        f"mutation($d: ID!, $rows: [ItemInput!]!) {{ upsertItems(datasetId: $d, items: $rows) {{ {UPSERT} {ERRORS} }} }}",
        {"d": dataset_id, "rows": items},
    )
    assert data["upsertItems"]["new"] == len(items), data
    return dataset_id


async def make_run(http: httpx.AsyncClient, dataset_id: str, name: str = "r") -> str:
    data = await graphql(
        http,
        f'mutation {{ createModel(input: {{name: "m{name}", referenceId: "m{name}"}}) {{ ... on Model {{ id }} {ERRORS} }} }}',
        {},
    )
    model_id = data["createModel"]["id"]
    data = await graphql(
        http,
        f"mutation($m: ID!, $d: ID!, $n: String!) {{ createModelRun(input: {{modelId: $m, datasetId: $d, name: $n}}) {{ ... on ModelRun {{ id }} {ERRORS} }} }}",
        {"m": model_id, "d": dataset_id, "n": name},
    )
    return str(data["createModelRun"]["id"])


def mask_row(
    ref: str, key: str, segments: list[tuple[int, str]], url: str | None = None
) -> dict[str, Any]:
    """A row whose mask comes as a file part (``url`` None) or from ``url``."""
    semantic: dict[str, Any] = {"segments": [{"index": i, "label": label} for i, label in segments]}
    if url is not None:
        semantic["maskUrl"] = url
    return {"referenceId": ref, "annotationId": key, "semanticSegmentation": semantic}


async def upload_masks(
    http: httpx.AsyncClient,
    *,
    target_id: str,
    rows: list[dict[str, Any]],
    pngs: dict[int, bytes],
    predictions: bool = False,
    update: bool = False,
) -> dict[str, Any]:
    """One batch; ``pngs``: row position -> the PNG sent as that row's ``mask`` file part."""
    field, argument, kind, id_name = (
        ("upsertPredictions", "predictions", "PredictionInput", "modelRunId")
        if predictions
        else ("upsertAnnotations", "annotations", "AnnotationInput", "datasetId")
    )
    query = (
        f"mutation($id: ID!, $rows: [{kind}!]!, $u: Boolean) {{ {field}({id_name}: $id, "
        f"{argument}: $rows, update: $u) {{ {UPSERT} {ERRORS} }} }}"
    )
    rows = [
        dict(row, semanticSegmentation=dict(row["semanticSegmentation"]))
        if "semanticSegmentation" in row
        else row
        for row in rows
    ]
    for k in pngs:
        rows[k]["semanticSegmentation"]["mask"] = None
    variables = {"id": target_id, "rows": rows, "u": update}
    if pngs:
        files = {f"rows.{k}.semanticSegmentation.mask": png for k, png in pngs.items()}
        response = await post_multipart(http, query, variables, files)
    else:  # no file part: a plain JSON request
        response = await http.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body["errors"]
    payload: dict[str, Any] = body["data"][field]
    return payload
