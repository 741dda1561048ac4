"""A 100-image COCO case uploaded through GraphQL with its images shuffled and in batches equals
pycocotools on the same files to 1e-12, for the run and for a slice (issue 11 §9): equal
confidences in different images rank by image id, whatever the upload order."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from sliceboard.config import Settings
from tests.support.coco_cases import case_stats
from tests.support.graphql import COCO_SUMMARY_FIELDS as COCO
from tests.support.graphql import GraphQLClient
from tests.support.upload_order import Row, batches, case_rows, tied_case

ERRORS = "... on Error { message }"
BATCH = 250


@pytest.fixture
async def app_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, run_jobs=True, job_poll_seconds=0.05)


def camel(row: Row) -> Row:
    names = {"reference_id": "referenceId", "annotation_id": "annotationId"}
    return {names.get(k, k): v for k, v in row.items()}


async def created(gql: GraphQLClient, field: str, variables: dict[str, Any]) -> str:
    data = await gql.data(field, variables)
    payload = next(iter(data.values()))
    assert "id" in payload, payload
    return str(payload["id"])


async def upload_in_batches(
    gql: GraphQLClient, field: str, kind: str, target: str, rows: list[Row]
) -> None:
    for batch in batches(rows, range(BATCH, len(rows), BATCH)):
        data = await gql.data(
            f"mutation($id: ID!, $rows: [{kind}!]!) {{ {field} {{ ... on UpsertResult {{ new }} {ERRORS} }} }}",
            {"id": target, "rows": [camel(row) for row in batch]},
        )
        assert next(iter(data.values()))["new"] == len(batch)


async def wait_for(gql: GraphQLClient, job_id: str) -> str:
    for _ in range(1200):
        job = (await gql.data("query($id: ID!) { job(id: $id) { status error } }", {"id": job_id}))[
            "job"
        ]
        if job["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            assert job["error"] is None, job
            return str(job["status"])
        await asyncio.sleep(0.05)
    raise AssertionError("the evaluation job did not finish in 60 s")


async def test_a_shuffled_coco_upload_equals_pycocotools(gql: GraphQLClient) -> None:
    case = tied_case(seed=21, n_images=100)
    ids = [i["id"] for i in case.dataset["images"]]
    order = [int(i) for i in np.random.default_rng(3).permutation(ids)]
    assert order != sorted(order)
    rows = case_rows(case, order)

    dataset_id = await created(
        gql,
        f'mutation {{ createDataset(input: {{name: "coco"}}) {{ ... on Dataset {{ id }} {ERRORS} }} }}',
        {},
    )
    model_id = await created(
        gql,
        f'mutation {{ createModel(input: {{name: "m", referenceId: "m"}}) {{ ... on Model {{ id }} {ERRORS} }} }}',
        {},
    )
    run_id = await created(
        gql,
        f'mutation($m: ID!, $d: ID!) {{ createModelRun(input: {{modelId: $m, datasetId: $d, name: "r"}}) {{ ... on ModelRun {{ id }} {ERRORS} }} }}',
        {"m": model_id, "d": dataset_id},
    )
    await upload_in_batches(
        gql, "upsertItems(datasetId: $id, items: $rows)", "ItemInput", dataset_id, rows.items
    )
    await upload_in_batches(
        gql,
        "upsertAnnotations(datasetId: $id, annotations: $rows)",
        "AnnotationInput",
        dataset_id,
        rows.annotations,
    )
    await upload_in_batches(
        gql, "upsertPredictions(modelRunId: $id, predictions: $rows)", "PredictionInput", run_id, rows.predictions
    )  # fmt: skip

    job = await gql.data(
        f"mutation($r: ID!) {{ calculateEvaluationMetrics(modelRunId: $r) {{ ... on Job {{ id }} {ERRORS} }} }}",
        {"r": run_id},
    )
    assert await wait_for(gql, job["calculateEvaluationMetrics"]["id"]) == "SUCCEEDED"

    query = f"""query($filter: ItemFilter) {{ modelRun(id: "{run_id}") {{
        metrics(filter: $filter) {{ itemCount coco {{ {COCO} }} }} }} }}"""
    even = {"metadata": {"field": "even", "op": "EQ", "value": True}}
    whole = (await gql.data(query, {"filter": None}))["modelRun"]["metrics"]
    sliced = (await gql.data(query, {"filter": even}))["modelRun"]["metrics"]
    even_ids = [i for i in ids if i % 2 == 0]
    assert (whole["itemCount"], sliced["itemCount"]) == (100, len(even_ids))
    for metrics, image_ids in ((whole, None), (sliced, even_ids)):
        got = np.array([metrics["coco"][k] for k in COCO.split()])
        np.testing.assert_allclose(got, case_stats(case, image_ids), rtol=0, atol=1e-12)
