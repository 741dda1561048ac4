"""Evaluation through GraphQL on the real app: queue, watch the job, read metrics of the run
and of a saved slice (equal to pycocotools), page through mistakes, staleness, bad options."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from sliceboard.config import Settings
from tests.support.coco_cases import CocoCase, case_stats, make_case
from tests.support.graphql import COCO_SUMMARY_FIELDS as COCO
from tests.support.graphql import GraphQLClient

ERRORS = "... on Error { message } ... on InvalidInputError { issues { path message } }"


@pytest.fixture
async def app_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, run_jobs=True, job_poll_seconds=0.05)


async def created(gql: GraphQLClient, mutation: str, variables: dict[str, Any]) -> str:
    data = await gql.data(mutation, variables)
    payload = next(iter(data.values()))
    assert "id" in payload, payload
    return str(payload["id"])


async def upload(gql: GraphQLClient, case: CocoCase) -> tuple[str, str]:
    images = sorted(case.dataset["images"], key=lambda i: i["id"])
    key = {i["id"]: i["key"] for i in images}
    name = {c["id"]: c["name"] for c in case.dataset["categories"]}
    dataset_id = await created(
        gql,
        f'mutation {{ createDataset(input: {{name: "coco"}}) {{ ... on Dataset {{ id }} {ERRORS} }} }}',
        {},
    )
    items = [
        {"referenceId": key[i["id"]], "width": i["width"], "height": i["height"],
         "metadata": {"split": "even" if i["id"] % 2 == 0 else "odd"}}
        for i in images
    ]  # fmt: skip
    annotations = [
        {"referenceId": key[a["image_id"]], "annotationId": f"gt{a['id']}", "label": name[a["category_id"]],
         "box": dict(zip(("x", "y", "width", "height"), a["bbox"], strict=True)),
         "area": a["area"], "iscrowd": bool(a["iscrowd"])}
        for a in case.dataset["annotations"]
    ]  # fmt: skip
    for field, kind, rows in (("upsertItems(datasetId: $id, items: $rows)", "ItemInput", items),
                              ("upsertAnnotations(datasetId: $id, annotations: $rows)", "AnnotationInput", annotations)):  # fmt: skip
        data = await gql.data(
            f"mutation($id: ID!, $rows: [{kind}!]!) {{ {field} {{ ... on UpsertResult {{ new }} {ERRORS} }} }}",
            {"id": dataset_id, "rows": rows},
        )
        assert next(iter(data.values()))["new"] == len(rows)
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
    predictions = [
        {"referenceId": key[d["image_id"]], "annotationId": f"dt{k}", "label": name[d["category_id"]],
         "box": dict(zip(("x", "y", "width", "height"), d["bbox"], strict=True)), "confidence": d["score"]}
        for k, d in enumerate(case.detections)
    ]  # fmt: skip
    uploaded = await gql.data(
        f"mutation($id: ID!, $rows: [PredictionInput!]!) {{ upsertPredictions(modelRunId: $id, predictions: $rows) {{ ... on UpsertResult {{ new }} {ERRORS} }} }}",
        {"id": run_id, "rows": predictions},
    )
    assert uploaded["upsertPredictions"]["new"] == len(predictions)
    return dataset_id, run_id


async def evaluate(gql: GraphQLClient, run_id: str, options: str = "") -> dict[str, Any]:
    data = await gql.data(
        f"mutation($r: ID!) {{ calculateEvaluationMetrics(modelRunId: $r{options}) {{ ... on Job {{ id status }} {ERRORS} }} }}",
        {"r": run_id},
    )
    job = data["calculateEvaluationMetrics"]
    assert job["status"] == "QUEUED", job
    for _ in range(600):
        state = (
            await gql.data(
                "query($id: ID!) { job(id: $id) { status error progress } }", {"id": job["id"]}
            )
        )["job"]
        if state["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return dict(state)
        await asyncio.sleep(0.05)
    raise AssertionError("the evaluation job did not finish")


def coco_of(data: dict[str, Any]) -> np.ndarray:
    return np.array([data["coco"][k] for k in COCO.split()])


@pytest.mark.slow
async def test_evaluate_and_query_a_run_through_graphql(gql: GraphQLClient) -> None:
    case = make_case(seed=3, n_images=20)
    dataset_id, run_id = await upload(gql, case)

    early = await gql.post(f'query {{ modelRun(id: "{run_id}") {{ metrics {{ itemCount }} }} }}')
    assert early["errors"][0]["extensions"]["code"] == "FAILED_PRECONDITION"

    assert (await evaluate(gql, run_id))["status"] == "SUCCEEDED"
    evaluation = (await gql.data(
        f'query {{ modelRun(id: "{run_id}") {{ evaluation {{ version status isStale options timings job {{ status }} }} jobs {{ status }} }} }}'
    ))["modelRun"]  # fmt: skip
    assert evaluation["evaluation"]["version"] == 1
    assert evaluation["evaluation"]["status"] == "SUCCEEDED"
    assert evaluation["evaluation"]["isStale"] is False
    assert evaluation["evaluation"]["options"]["matching"] == "CONFIDENCE"
    timings = evaluation["evaluation"]["timings"]
    parts = ("loadSeconds", "buildSeconds", "matchSeconds", "storeSeconds")
    assert set(timings) == {*parts, "totalSeconds"}
    assert 0 < timings["matchSeconds"] <= sum(timings[p] for p in parts) <= timings["totalSeconds"]

    query = f"""query($slice: ID) {{ modelRun(id: "{run_id}") {{ metrics(sliceId: $slice) {{
        itemCount groundTruthCount predictionCount coco {{ {COCO} }}
        perLabel {{ label ap truePositives falsePositives falseNegatives precision recall f1 }}
        precisionRecallCurve {{ recall precision confidence }}
        confusionMatrix {{ labels counts }} }} }} }}"""
    whole = (await gql.data(query, {"slice": None}))["modelRun"]["metrics"]
    np.testing.assert_allclose(coco_of(whole), case_stats(case), rtol=0, atol=1e-12)
    assert whole["itemCount"] == 20 and whole["predictionCount"] == len(case.detections)
    assert len(whole["confusionMatrix"]["counts"]) == len(whole["confusionMatrix"]["labels"]) + 1

    slice_id = await created(
        gql,
        f'mutation($d: ID!) {{ createSlice(input: {{datasetId: $d, name: "even", filter: {{metadata: {{field: "split", op: EQ, value: "even"}}}}}}) {{ ... on Slice {{ id }} {ERRORS} }} }}',
        {"d": dataset_id},
    )
    sliced = (await gql.data(query, {"slice": slice_id}))["modelRun"]["metrics"]
    even = [i["id"] for i in case.dataset["images"] if i["id"] % 2 == 0]
    np.testing.assert_allclose(coco_of(sliced), case_stats(case, even), rtol=0, atol=1e-12)

    false_positives = sum(row["falsePositives"] for row in whole["perLabel"])
    true_positives = sum(row["truePositives"] for row in whole["perLabel"])
    misses = sum(row["falseNegatives"] for row in whole["perLabel"])
    page_query = f"""query($outcome: Outcome, $after: String) {{ modelRun(id: "{run_id}") {{
        predictions(filter: {{outcome: $outcome}}, orderBy: CONFIDENCE_DESC, first: 7, after: $after) {{
          totalCount pageInfo {{ hasNextPage endCursor }}
          edges {{ node {{ id confidence iou matchedAnnotation {{ annotationId }} }} }} }} }} }}"""
    fp_page = (await gql.data(page_query, {"outcome": "FALSE_POSITIVE"}))["modelRun"]["predictions"]
    assert fp_page["totalCount"] == false_positives
    assert all(
        e["node"]["iou"] is None and e["node"]["matchedAnnotation"] is None
        for e in fp_page["edges"]
    )
    seen: list[float] = []
    after = None
    while True:
        page = (await gql.data(page_query, {"outcome": "TRUE_POSITIVE", "after": after}))[
            "modelRun"
        ]["predictions"]
        for edge in page["edges"]:
            assert edge["node"]["iou"] >= 0.5 and edge["node"]["matchedAnnotation"] is not None
            seen.append(edge["node"]["confidence"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == true_positives and seen == sorted(seen, reverse=True)

    fn = (await gql.data(f'query {{ modelRun(id: "{run_id}") {{ falseNegatives(first: 3) {{ totalCount edges {{ node {{ annotationId }} }} }} }} }}'))  # fmt: skip
    assert fn["modelRun"]["falseNegatives"]["totalCount"] == misses

    late = await gql.data(
        'mutation($id: ID!, $ref: String!) { upsertPredictions(modelRunId: $id, predictions: [{referenceId: $ref, annotationId: "late", label: "c3", box: {x: 1, y: 1, width: 5, height: 5}, confidence: 0.5}]) { ... on UpsertResult { new } } }',
        {"id": run_id, "ref": case.image_keys[0]},
    )
    assert late["upsertPredictions"] == {"new": 1}
    stale = (await gql.data(f'query {{ modelRun(id: "{run_id}") {{ evaluation {{ version isStale }} metrics {{ predictionCount }} }} }}'))["modelRun"]  # fmt: skip
    assert stale["evaluation"] == {"version": 1, "isStale": True}
    assert stale["metrics"]["predictionCount"] == len(
        case.detections
    )  # the old results stay visible


async def test_bad_evaluation_requests_answer_typed_errors(gql: GraphQLClient) -> None:
    case = make_case(seed=4, n_images=3)
    _, run_id = await upload(gql, case)
    bad = await gql.data(
        "mutation($r: ID!) { calculateEvaluationMetrics(modelRunId: $r, options: {iouThresholds: [0.5, 1.5], maxDetections: 0}) { __typename ... on InvalidInputError { issues { path } } } }",
        {"r": run_id},
    )
    paths = {i["path"] for i in bad["calculateEvaluationMetrics"]["issues"]}
    assert paths == {"options.iouThresholds[1]", "options.maxDetections"}
    missing = await gql.data(
        'mutation { calculateEvaluationMetrics(modelRunId: "999999") { __typename } }'
    )
    assert missing["calculateEvaluationMetrics"]["__typename"] == "NotFoundError"


async def test_a_run_without_predictions_fails_with_a_message(gql: GraphQLClient) -> None:
    dataset_id = await created(
        gql, 'mutation { createDataset(input: {name: "d"}) { ... on Dataset { id } } }', {}
    )
    model_id = await created(
        gql,
        'mutation { createModel(input: {name: "m", referenceId: "m"}) { ... on Model { id } } }',
        {},
    )
    run_id = await created(
        gql,
        'mutation($m: ID!, $d: ID!) { createModelRun(input: {modelId: $m, datasetId: $d, name: "r"}) { ... on ModelRun { id } } }',
        {"m": model_id, "d": dataset_id},
    )
    state = await evaluate(gql, run_id)
    assert state["status"] == "FAILED"
    assert "no predictions" in state["error"]
