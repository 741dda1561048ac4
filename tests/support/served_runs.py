"""A generated COCO case uploaded to a running ``sliceboard serve`` over HTTP and evaluated
there, and what the server's processes map: the pieces the resource-leak tests share."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.coco_cases import CocoCase

SNAPSHOT_SUFFIX = ".snapshot"


def graphql(base: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """POSTs a GraphQL document; its ``data`` (there must be no errors)."""
    response = httpx.post(
        f"{base}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


def _created(base: str, mutation: str, variables: dict[str, Any]) -> str:
    payload = next(iter(graphql(base, mutation, variables).values()))
    assert "id" in payload, payload
    return str(payload["id"])


def upload_run(base: str, case: CocoCase) -> str:
    """The case as a dataset, a model and a run of predictions; the run's id."""
    images = sorted(case.dataset["images"], key=lambda i: i["id"])
    key = {i["id"]: i["key"] for i in images}
    name = {c["id"]: c["name"] for c in case.dataset["categories"]}

    def box(row: dict[str, Any]) -> dict[str, float]:
        return dict(zip(("x", "y", "width", "height"), row["bbox"], strict=True))

    dataset_id = _created(
        base, 'mutation { createDataset(input: {name: "coco"}) { ... on Dataset { id } } }', {}
    )
    items = [
        {"referenceId": key[i["id"]], "width": i["width"], "height": i["height"]} for i in images
    ]
    annotations = [
        {"referenceId": key[a["image_id"]], "annotationId": f"gt{a['id']}",
         "label": name[a["category_id"]], "box": box(a), "area": a["area"],
         "iscrowd": bool(a["iscrowd"])}
        for a in case.dataset["annotations"]
    ]  # fmt: skip
    graphql(
        base,
        "mutation($d: ID!, $r: [ItemInput!]!) { upsertItems(datasetId: $d, items: $r) { __typename } }",
        {"d": dataset_id, "r": items},
    )
    graphql(
        base,
        "mutation($d: ID!, $r: [AnnotationInput!]!) { upsertAnnotations(datasetId: $d, annotations: $r) { __typename } }",
        {"d": dataset_id, "r": annotations},
    )
    model_id = _created(
        base,
        'mutation { createModel(input: {name: "m", referenceId: "m"}) { ... on Model { id } } }',
        {},
    )
    run_id = _created(
        base,
        'mutation($m: ID!, $d: ID!) { createModelRun(input: {modelId: $m, datasetId: $d, name: "r"}) { ... on ModelRun { id } } }',
        {"m": model_id, "d": dataset_id},
    )
    predictions = [
        {"referenceId": key[d["image_id"]], "annotationId": f"dt{k}",
         "label": name[d["category_id"]], "box": box(d), "confidence": d["score"]}
        for k, d in enumerate(case.detections)
    ]  # fmt: skip
    for start in range(0, len(predictions), 5_000):
        graphql(
            base,
            "mutation($id: ID!, $r: [PredictionInput!]!) { upsertPredictions(modelRunId: $id, predictions: $r) { __typename } }",
            {"id": run_id, "r": predictions[start : start + 5_000]},
        )
    return run_id


def evaluate(base: str, run_id: str, timeout: float = 60) -> None:
    """A new evaluation of the run, waited for (a bounded poll of the job)."""
    job = graphql(
        base,
        "mutation($r: ID!) { calculateEvaluationMetrics(modelRunId: $r) { ... on Job { id } } }",
        {"r": run_id},
    )["calculateEvaluationMetrics"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = graphql(base, "query($id: ID!) { job(id: $id) { status error } }", job)["job"]
        if state["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            assert state["status"] == "SUCCEEDED", state
            return
        time.sleep(0.02)
    raise AssertionError("the evaluation did not finish")


def children(pid: int) -> list[int]:
    """The direct child processes of ``pid`` (Linux)."""
    found: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        text = Path(f"/proc/{pid}/task/{task}/children").read_text()
        found.extend(int(child) for child in text.split())
    return found


def snapshot_mappings(pid: int) -> dict[str, int]:
    """Snapshot files ``pid`` maps (deleted or not): bytes mapped per file."""
    mapped: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or SNAPSHOT_SUFFIX not in fields[5]:
            continue
        start, end = (int(bound, 16) for bound in fields[0].split("-"))
        path = fields[5].removesuffix(" (deleted)")
        mapped[path] = mapped.get(path, 0) + end - start
    return mapped
