"""importFile over HTTP on both databases: COCO ground truth + results imported, evaluated,
give pycocotools' 12 numbers; re-imports are idempotent; bad files fail with their issue and
write nothing; an export of the run's results evaluates to the same numbers."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from bench.pycoco import pycocotools_stats
from sliceboard.config import Settings
from tests.e2e.test_evaluation import coco_of, evaluate
from tests.support.coco_cases import case_stats, make_case
from tests.support.file_jobs import (
    counts,
    dataset_and_run,
    export_file,
    import_file,
    post_import,
)
from tests.support.graphql import COCO_SUMMARY_FIELDS as COCO
from tests.support.graphql import GraphQLClient

COUNTS = "query($d: ID!) { dataset(id: $d) { items { totalCount } } }"


def coco_bytes(case_dataset: dict[str, Any]) -> bytes:
    return json.dumps(case_dataset).encode()


@pytest.mark.slow
async def test_coco_files_import_evaluate_to_pycocotools_and_export_back(
    http: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    case = make_case(seed=5, n_images=30)
    dataset_id, run_id = await dataset_and_run(gql)
    gt = await import_file(
        http, {"format": "COCO", "datasetId": dataset_id}, coco_bytes(case.dataset)
    )
    assert gt["status"] == "SUCCEEDED", gt
    assert gt["kind"] == "IMPORT"
    n_gt = len(case.dataset["annotations"])
    assert gt["result"]["items"] == {"new": 30, "updated": 0, "ignored": 0}
    assert gt["result"]["annotations"] == {"new": n_gt, "updated": 0, "ignored": 0}
    assert gt["rowsDone"] == gt["rowsTotal"] == 30 + n_gt
    dt = await import_file(
        http,
        {"format": "COCO_RESULTS", "datasetId": dataset_id, "modelRunId": run_id},
        json.dumps(case.detections).encode(),
    )
    assert dt["status"] == "SUCCEEDED", dt
    assert dt["result"]["predictions"]["new"] == len(case.detections)

    again = await import_file(
        http, {"format": "COCO", "datasetId": dataset_id}, coco_bytes(case.dataset)
    )
    assert again["result"]["items"] == {"new": 0, "updated": 0, "ignored": 30}
    assert again["result"]["annotations"] == {"new": 0, "updated": 0, "ignored": n_gt}

    assert (await evaluate(gql, run_id))["status"] == "SUCCEEDED"
    metrics = (await gql.data(
        f'query {{ modelRun(id: "{run_id}") {{ metrics {{ coco {{ {COCO} }} }} }} }}'
    ))["modelRun"]["metrics"]  # fmt: skip
    np.testing.assert_allclose(coco_of(metrics), case_stats(case), rtol=0, atol=1e-12)

    _, results = await export_file(http, {"format": "COCO_RESULTS", "modelRunId": run_id})
    assert "coco-results" in results.headers["content-disposition"]
    _, ground_truth = await export_file(http, {"format": "COCO", "datasetId": dataset_id})
    exported_gt, exported_dt = ground_truth.json(), results.json()
    assert len(exported_dt) == len(case.detections)
    np.testing.assert_allclose(
        pycocotools_stats(exported_gt, exported_dt), case_stats(case), rtol=0, atol=1e-12
    )

    report, body = await export_file(http, {"format": "METRICS_JSON", "modelRunId": run_id})
    assert report["result"]["bytes"] == len(body.content)
    np.testing.assert_allclose(coco_of(body.json()), case_stats(case), rtol=0, atol=1e-12)
    _, table = await export_file(http, {"format": "MATCHES_CSV", "modelRunId": run_id})
    lines = table.text.strip().splitlines()
    assert lines[0] == "item,side,annotation_id,label,confidence,matched_annotation_id,iou,outcome"
    assert len(lines) - 1 == len(case.detections) + n_gt
    rows = list(csv.DictReader(io.StringIO(table.text)))
    outcomes = {(r["side"], r["outcome"]) for r in rows}
    assert ("prediction", "TP") in outcomes and ("ground_truth", "FN") in outcomes
    for r in rows:  # a matched pair names each other
        if r["side"] == "prediction" and r["outcome"] == "TP":
            assert float(r["iou"]) >= 0.5 and r["matched_annotation_id"]
    pyarrow = pytest.importorskip("pyarrow.parquet")
    _, parquet = await export_file(http, {"format": "MATCHES_PARQUET", "modelRunId": run_id})
    frame = pyarrow.read_table(io.BytesIO(parquet.content)).to_pylist()
    assert [r["annotation_id"] for r in frame] == [r["annotation_id"] for r in rows]
    assert [r["outcome"] for r in frame] == [r["outcome"] for r in rows]


async def test_a_download_needs_its_token_and_an_upload_its_limit(
    http: httpx.AsyncClient, gql: GraphQLClient, app_settings: Settings
) -> None:
    assert (await http.get("/files/not-a-token")).status_code == 404
    dataset_id, _ = await dataset_and_run(gql)
    big = b" " * (app_settings.max_import_bytes + 1)
    refused = await post_import(http, {"format": "NDJSON", "datasetId": dataset_id}, big)
    assert refused["__typename"] == "InvalidInputError", refused
    assert "SLICEBOARD_MAX_IMPORT_BYTES" in refused["message"]
    assert list((Path(app_settings.files_dir) / "imports").iterdir()) == []


async def test_ndjson_round_trips_through_export_and_import(
    http: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    dataset_id, run_id = await dataset_and_run(gql, "src")
    lines = [
        {"referenceId": "a", "width": 100, "height": 80, "metadata": {"split": "val"}},
        {"kind": "item", "referenceId": "b", "url": "s3://b.png"},
        {"referenceId": "a", "annotationId": "g1", "label": "cat", "box": {"x": 1, "y": 2, "width": 3, "height": 4}},
        {"referenceId": "b", "annotationId": "g2", "label": "dog", "iscrowd": True,
         "polygon": {"vertices": [{"x": 0, "y": 0}, {"x": 10, "y": 0}, {"x": 0, "y": 10}]}},
        {"referenceId": "a", "annotationId": "g3", "label": "person",
         "keypoints": {"points": [{"x": 1, "y": 1, "visibility": 2}, {"x": 5, "y": 5, "visibility": 1}], "skeleton": [[0, 1]]}},
        {"referenceId": "b", "annotationId": "c1", "label": "indoor"},
    ]  # fmt: skip
    text = "\n".join(json.dumps(line) for line in lines).encode()
    job = await import_file(http, {"format": "NDJSON", "datasetId": dataset_id}, text)
    assert job["status"] == "SUCCEEDED", job
    assert job["result"]["items"]["new"] == 2 and job["result"]["annotations"]["new"] == 4
    predictions = [
        {"referenceId": "a", "annotationId": "p1", "label": "cat", "confidence": 0.9,
         "box": {"x": 1, "y": 2, "width": 3, "height": 5}, "classPdf": {"cat": 0.9, "dog": 0.1}},
        {"kind": "prediction", "referenceId": "b", "annotationId": "p2", "label": "dog",
         "segmentation": {"rle": {"counts": [0, 4, 96], "size": [10, 10]}}},
    ]  # fmt: skip
    text = "\n".join(json.dumps(line) for line in predictions).encode()
    job = await import_file(
        http, {"format": "NDJSON", "datasetId": dataset_id, "modelRunId": run_id}, text
    )
    assert job["status"] == "SUCCEEDED", job
    assert job["result"]["predictions"]["new"] == 2

    _, gt_file = await export_file(http, {"format": "NDJSON", "datasetId": dataset_id})
    _, dt_file = await export_file(http, {"format": "NDJSON", "modelRunId": run_id})
    copy_id, copy_run = await dataset_and_run(gql, "copy")
    job = await import_file(http, {"format": "NDJSON", "datasetId": copy_id}, gt_file.content)
    assert job["status"] == "SUCCEEDED", job
    job = await import_file(
        http, {"format": "NDJSON", "datasetId": copy_id, "modelRunId": copy_run}, dt_file.content
    )
    assert job["status"] == "SUCCEEDED", job
    assert job["result"]["items"]["ignored"] == 2
    _, gt_again = await export_file(http, {"format": "NDJSON", "datasetId": copy_id})
    _, dt_again = await export_file(http, {"format": "NDJSON", "modelRunId": copy_run})
    assert gt_again.content == gt_file.content
    assert dt_again.content == dt_file.content
    assert await counts(gql, copy_id, copy_run) == (2, 4, 2)
    _, selected = await export_file(
        http,
        {
            "format": "NDJSON",
            "datasetId": dataset_id,
            "filter": {"metadata": {"field": "split", "op": "EQ", "value": "val"}},
        },
    )
    assert {json.loads(line)["referenceId"] for line in selected.text.splitlines()} == {"a"}
    # importing an export into its own source changes nothing
    same = await import_file(http, {"format": "NDJSON", "datasetId": dataset_id}, gt_file.content)
    assert same["result"]["items"] == {"new": 0, "updated": 0, "ignored": 2}
    assert same["result"]["annotations"] == {"new": 0, "updated": 0, "ignored": 4}


def yolo_zip(labels: dict[str, str], names: str = "names: [cat, dog]\n") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.yaml", names)
        for stem, text in labels.items():
            archive.writestr(f"labels/{stem}.txt", text)
    return buffer.getvalue()


async def test_yolo_labels_are_scaled_by_item_size(
    http: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    dataset_id, run_id = await dataset_and_run(gql)
    items = "\n".join(
        json.dumps({"referenceId": ref, "width": 200, "height": 100}) for ref in ("img1", "img2")
    ).encode()
    assert (await import_file(http, {"format": "NDJSON", "datasetId": dataset_id}, items))[
        "status"
    ] == "SUCCEEDED"
    archive = yolo_zip(
        {"img1": "0 0.5 0.5 0.2 0.4\n1 0.1 0.1 0.3 0.1 0.3 0.3\n", "img2": "1 0.25 0.5 0.5 0.5\n"}
    )
    job = await import_file(http, {"format": "YOLO", "datasetId": dataset_id}, archive, "y.zip")
    assert job["status"] == "SUCCEEDED", job
    assert job["result"]["annotations"]["new"] == 3
    _, exported = await export_file(http, {"format": "NDJSON", "datasetId": dataset_id})
    rows = {
        r["annotationId"]: r
        for r in map(json.loads, exported.text.splitlines())
        if r["kind"] == "annotation"
    }
    assert rows["img1:1"]["box"] == {
        "x": 80.0,
        "y": 30.0,
        "width": 40.0,
        "height": 40.0,
        "rotation": 0.0,
    }
    assert rows["img1:1"]["label"] == "cat"
    assert rows["img1:2"]["polygon"]["vertices"] == [
        {"x": 20.0, "y": 10.0}, {"x": 60.0, "y": 10.0}, {"x": 60.0, "y": 30.0}
    ]  # fmt: skip
    assert rows["img2:1"]["box"] == {
        "x": 0.0,
        "y": 25.0,
        "width": 100.0,
        "height": 50.0,
        "rotation": 0.0,
    }
    predicted = yolo_zip({"img1": "0 0.5 0.5 0.2 0.4 0.75\n"})
    job = await import_file(
        http, {"format": "YOLO", "datasetId": dataset_id, "modelRunId": run_id}, predicted
    )
    assert job["status"] == "SUCCEEDED", job
    _, exported = await export_file(http, {"format": "NDJSON", "modelRunId": run_id})
    predictions = [
        r for r in map(json.loads, exported.text.splitlines()) if r["kind"] == "prediction"
    ]
    assert [(p["annotationId"], p["confidence"]) for p in predictions] == [("img1:1", 0.75)]


async def test_ndjson_custom_metric_lines_go_to_the_run(
    http: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    dataset_id, run_id = await dataset_and_run(gql)
    lines = [
        {"referenceId": "a"},
        {"referenceId": "b"},
        {"kind": "customMetric", "name": "m", "referenceId": "a", "value": 0.25},
        {"kind": "customMetric", "name": "m", "referenceId": "b", "value": 0.75},
    ]
    text = "\n".join(json.dumps(line) for line in lines).encode()
    job = await import_file(
        http, {"format": "NDJSON", "datasetId": dataset_id, "modelRunId": run_id}, text
    )
    assert job["status"] == "SUCCEEDED", job
    assert job["result"]["customMetrics"] == {"new": 2, "updated": 0, "ignored": 0}
    data = await gql.data(
        'query($id: ID!) { modelRun(id: $id) { customMetrics(names: ["m"]) { name value count } } }',
        {"id": run_id},
    )
    assert data["modelRun"]["customMetrics"] == [{"name": "m", "value": 0.5, "count": 2}]
    bad = [lines[0], {"kind": "customMetric", "name": "m", "referenceId": "zzz", "value": 1.0}]
    text = "\n".join(json.dumps(line) for line in bad).encode()
    job = await import_file(
        http, {"format": "NDJSON", "datasetId": dataset_id, "modelRunId": run_id}, text
    )
    assert job["status"] == "FAILED"
    assert job["issues"] == ["line 2: referenceId no data row 'zzz' in the run's dataset"]
