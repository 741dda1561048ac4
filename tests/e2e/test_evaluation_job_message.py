"""Each evaluation job ends with a message about its own work, not an earlier job's or an
earlier step's ("loaded 1 predictions and 1 ground truths" on a second evaluation)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from sliceboard.config import Settings
from tests.support.graphql import GraphQLClient

BOX = {"x": 0, "y": 0, "width": 10, "height": 10}


@pytest.fixture
async def app_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, run_jobs=True, job_poll_seconds=0.05)


async def _id(gql: GraphQLClient, mutation: str, variables: dict[str, Any]) -> str:
    payload = next(iter((await gql.data(mutation, variables)).values()))
    assert "id" in payload, payload
    return str(payload["id"])


async def _predict(gql: GraphQLClient, run_id: str, annotation_id: str) -> None:
    row = {"referenceId": "r", "annotationId": annotation_id, "label": "car", "box": BOX}
    data = await gql.data(
        "mutation($r: ID!, $p: [PredictionInput!]!) { upsertPredictions(modelRunId: $r, "
        "predictions: $p) { ... on UpsertResult { new } } }",
        {"r": run_id, "p": [{**row, "confidence": 0.5}]},
    )
    assert data["upsertPredictions"]["new"] == 1


async def _evaluate(gql: GraphQLClient, run_id: str) -> dict[str, Any]:
    job_id = await _id(
        gql,
        "mutation($r: ID!) { calculateEvaluationMetrics(modelRunId: $r) { ... on Job { id } } }",
        {"r": run_id},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job: dict[str, Any] = (
            await gql.data("query($j: ID!) { job(id: $j) { status message } }", {"j": job_id})
        )["job"]
        if job["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError("the evaluation did not finish")


async def test_a_second_evaluation_ends_with_its_own_message(gql: GraphQLClient) -> None:
    dataset_id = await _id(
        gql, 'mutation { createDataset(input: {name: "d"}) { ... on Dataset { id } } }', {}
    )
    await gql.data(
        'mutation($d: ID!) { upsertItems(datasetId: $d, items: [{referenceId: "r"}]) { __typename } }',
        {"d": dataset_id},
    )
    await gql.data(
        "mutation($d: ID!, $a: [AnnotationInput!]!) { upsertAnnotations(datasetId: $d, "
        "annotations: $a) { __typename } }",
        {
            "d": dataset_id,
            "a": [{"referenceId": "r", "annotationId": "g", "label": "car", "box": BOX}],
        },
    )
    model_id = await _id(
        gql,
        'mutation { createModel(input: {name: "m", referenceId: "m"}) { ... on Model { id } } }',
        {},
    )
    run_id = await _id(
        gql,
        'mutation($m: ID!, $d: ID!) { createModelRun(input: {modelId: $m, datasetId: $d, name: "r"}) { ... on ModelRun { id } } }',
        {"m": model_id, "d": dataset_id},
    )
    await _predict(gql, run_id, "p1")
    first = await _evaluate(gql, run_id)
    await _predict(gql, run_id, "p2")
    second = await _evaluate(gql, run_id)
    assert first == {
        "status": "SUCCEEDED",
        "message": "evaluation version 1 published: 1 predictions against 1 ground truths",
    }
    assert second == {
        "status": "SUCCEEDED",
        "message": "evaluation version 2 published: 2 predictions against 1 ground truths",
    }
