"""Subscription.job over graphql-transport-ws, against a real ``sliceboard serve``: it pushes an
evaluation job's changes until the job ends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.serving import post, serving, subscription

pytestmark = pytest.mark.slow

SETUP = """mutation {
  createDataset(input: {name: "d"}) { ... on Dataset { id } }
  createModel(input: {name: "m", referenceId: "m"}) { ... on Model { id } }
}"""
SUBSCRIBE = "subscription($id: ID!) { job(id: $id) { status progress } }"


def test_subscription_streams_an_evaluation_job_until_it_ends(tmp_path: Path) -> None:
    with serving(tmp_path / "sliceboard.db") as base:
        ids = post(base, SETUP)
        dataset_id, model_id = ids["createDataset"]["id"], ids["createModel"]["id"]
        run = post(
            base,
            'mutation($m: ID!, $d: ID!) { createModelRun(input: {modelId: $m, datasetId: $d, name: "r"}) { ... on ModelRun { id } } }',
            {"m": model_id, "d": dataset_id},
        )["createModelRun"]["id"]
        post(
            base,
            'mutation($d: ID!) { upsertItems(datasetId: $d, items: [{referenceId: "a"}]) { __typename } }',
            {"d": dataset_id},
        )
        post(
            base,
            'mutation($d: ID!) { upsertAnnotations(datasetId: $d, annotations: [{referenceId: "a", annotationId: "g", label: "x", box: {x: 0, y: 0, width: 10, height: 10}}]) { __typename } }',
            {"d": dataset_id},
        )
        post(
            base,
            'mutation($r: ID!) { upsertPredictions(modelRunId: $r, predictions: [{referenceId: "a", annotationId: "p", label: "x", confidence: 0.9, box: {x: 1, y: 0, width: 10, height: 10}}]) { __typename } }',
            {"r": run},
        )
        job_id = post(
            base,
            "mutation($r: ID!) { calculateEvaluationMetrics(modelRunId: $r) { ... on Job { id } } }",
            {"r": run},
        )["calculateEvaluationMetrics"]["id"]

        seen: list[tuple[str, float]] = []
        with subscription(base, SUBSCRIBE, {"id": job_id}) as ws:
            while True:
                message = json.loads(ws.recv(timeout=60))
                if message["type"] == "complete":
                    break
                assert message["type"] == "next", message
                job = message["payload"]["data"]["job"]
                seen.append((job["status"], job["progress"]))
        assert seen[-1] == ("SUCCEEDED", 1.0)
        progress = [p for _, p in seen]
        assert progress == sorted(progress)
        metrics = post(
            base, f'query {{ modelRun(id: "{run}") {{ metrics {{ coco {{ ap50 }} }} }} }}'
        )
        assert metrics["modelRun"]["metrics"]["coco"]["ap50"] == pytest.approx(1.0)
