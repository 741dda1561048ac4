"""Semantic masks evaluated through GraphQL on both databases: a run of masks alone (numbers
equal to torchmetrics on the uploaded pixels), a saved slice equal to a fresh run over that
slice's items alone, paged FP/FN segments, and a run mixing masks with boxes (each family its
own numbers)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import numpy as np
import pytest

from sliceboard.config import Settings
from tests.support.label_maps import blocky_map, perturbed, png_bytes
from tests.support.semantic_uploads import (
    ERRORS,
    graphql,
    make_dataset,
    make_run,
    mask_row,
    upload_masks,
)

torch = pytest.importorskip("torch")
tm = pytest.importorskip("torchmetrics.classification")

H, W = 30, 44
IGNORE = 255
GT_SEGMENTS = [(1, "road"), (2, "car"), (3, "sky"), (4, "road")]
DT_SEGMENTS = [(1, "road"), (2, "car"), (3, "sky"), (5, "person")]
LABELS = ["car", "person", "road", "sky"]
CODE = {1: 2, 2: 0, 3: 3, 4: 2}  # GT index -> label code (sorted LABELS)
DT_CODE = {1: 2, 2: 0, 3: 3, 5: 1}

SEGMENTATION = """segmentation { itemCount labels meanIou meanImageIou pixelAccuracy
    meanClassAccuracy frequencyWeightedIou
    perLabel { label iou dice precision recall truePositivePixels falsePositivePixels
               falseNegativePixels groundTruthPixels predictedPixels }
    pixelConfusionMatrix { labels counts }
    segmentsPerLabel { label truePositives falsePositives falseNegatives precision recall f1 }
    segmentConfusionMatrix { labels counts }
    falsePositiveSegments(first: 2) { totalCount pageInfo { hasNextPage endCursor }
        edges { node { index label pixels prediction { annotationId } annotation { id } } } }
    falseNegativeSegments(first: 100) { totalCount edges { node { index label annotation { annotationId item { referenceId } } } } } }"""


@pytest.fixture
async def app_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, run_jobs=True, job_poll_seconds=0.05)


def _masks(n: int, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    gts, dts = [], []
    for _ in range(n):
        gt = blocky_map(rng, H, W, [IGNORE, 1, 2, 3, 4], cell=int(rng.integers(3, 8)))
        dt = perturbed(rng, gt, [IGNORE, 1, 2, 3, 5], 0.15)
        dt[dt == 4] = 1  # the prediction has no index 4: "road" is its index 1
        gts.append(gt)
        dts.append(dt)
    return gts, dts


async def _upload_run(
    http: httpx.AsyncClient,
    refs: list[str],
    gts: list[np.ndarray],
    dts: list[np.ndarray],
    name: str,
) -> str:
    dataset_id = await make_dataset(
        http,
        dict.fromkeys(refs, (H, W)),
        ignore_index=IGNORE,
        metadata={ref: {"half": k % 2} for k, ref in enumerate(refs)},
        name=name,
    )
    run_id = await make_run(http, dataset_id, name)
    for target, arrays, segments, predictions in (
        (dataset_id, gts, GT_SEGMENTS, False),
        (run_id, dts, DT_SEGMENTS, True),
    ):
        rows = [mask_row(ref, f"mask-{ref}", segments) for ref in refs]
        pngs = {k: png_bytes(a) for k, a in enumerate(arrays)}
        result = await upload_masks(
            http, target_id=target, rows=rows, pngs=pngs, predictions=predictions
        )
        assert result["new"] == len(refs), result
    return run_id


async def _evaluate(http: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    data = await graphql(
        http,
        f"mutation($r: ID!) {{ calculateEvaluationMetrics(modelRunId: $r) {{ ... on Job {{ id }} {ERRORS} }} }}",
        {"r": run_id},
    )
    job_id = data["calculateEvaluationMetrics"]["id"]
    for _ in range(1200):
        job = (
            await graphql(http, "query($j: ID!) { job(id: $j) { status error } }", {"j": job_id})
        )["job"]
        if job["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return dict(job)
        await asyncio.sleep(0.05)
    raise AssertionError("the evaluation did not finish")


async def _metrics(http: httpx.AsyncClient, run_id: str, filter: Any = None) -> dict[str, Any]:
    data = await graphql(
        http,
        f"query($r: ID!, $f: ItemFilter) {{ modelRun(id: $r) {{ metrics(filter: $f) {{ itemCount groundTruthCount predictionCount coco {{ ap }} {SEGMENTATION} }} }} }}",
        {"r": run_id, "f": filter},
    )
    return dict(data["modelRun"]["metrics"])


def _torch_labels(arrays: list[np.ndarray], code: dict[int, int], ignored: int) -> Any:
    stacked = np.stack(arrays)
    out = np.full(stacked.shape, ignored, dtype=np.int64)
    for index, label in code.items():
        out[stacked == index] = label
    return torch.from_numpy(out)


async def test_a_run_of_semantic_masks(http: httpx.AsyncClient) -> None:
    refs = [f"img{k}" for k in range(6)]
    gts, dts = _masks(6, seed=1)
    run_id = await _upload_run(http, refs, gts, dts, "all")
    assert (await _evaluate(http, run_id))["status"] == "SUCCEEDED"
    metrics = await _metrics(http, run_id)
    assert (metrics["itemCount"], metrics["groundTruthCount"], metrics["predictionCount"]) == (
        6,
        0,
        0,
    )
    seg = metrics["segmentation"]
    assert seg["labels"] == LABELS and seg["itemCount"] == 6

    # the same pixels through torchmetrics (unlabelled predictions as a class of their own)
    target = _torch_labels(gts, CODE, -1)
    preds = _torch_labels(dts, DT_CODE, len(LABELS))
    kwargs = {"num_classes": len(LABELS) + 1, "ignore_index": -1}
    confusion = tm.MulticlassConfusionMatrix(**kwargs)(preds, target).numpy()
    assert seg["pixelConfusionMatrix"]["counts"] == confusion[: len(LABELS)].tolist()
    iou = tm.MulticlassJaccardIndex(average=None, **kwargs)(preds, target).numpy()
    for k, row in enumerate(seg["perLabel"]):
        if row["iou"] is not None:
            assert abs(row["iou"] - float(iou[k])) < 1e-6  # torchmetrics divides in float32
    present = [r["iou"] for r in seg["perLabel"] if r["iou"] is not None]
    assert seg["meanIou"] == pytest.approx(float(np.mean(present)), abs=1e-12)
    accuracy = tm.MulticlassAccuracy(average="micro", **kwargs)(preds, target)
    assert abs(seg["pixelAccuracy"] - float(accuracy)) < 1e-6
    person = next(r for r in seg["perLabel"] if r["label"] == "person")
    assert person["groundTruthPixels"] == 0 and person["iou"] == 0.0 and person["recall"] is None

    # segments: "person" is only predicted, so each of its segments is a false positive
    fps = seg["falsePositiveSegments"]
    person_segments = next(r for r in seg["segmentsPerLabel"] if r["label"] == "person")
    assert person_segments["truePositives"] == 0 and person_segments["falsePositives"] >= 1
    assert fps["totalCount"] == sum(r["falsePositives"] for r in seg["segmentsPerLabel"])
    first = fps["edges"][0]["node"]
    assert first["annotation"] is None and first["prediction"]["annotationId"].startswith("mask-")
    if fps["totalCount"] > 2:
        assert fps["pageInfo"]["hasNextPage"] is True
        rest = await graphql(
            http,
            "query($r: ID!, $a: String) { modelRun(id: $r) { metrics { segmentation { falsePositiveSegments(first: 100, after: $a) { totalCount edges { node { index } } } } } } }",
            {"r": run_id, "a": fps["pageInfo"]["endCursor"]},
        )
        page = rest["modelRun"]["metrics"]["segmentation"]["falsePositiveSegments"]
        assert len(page["edges"]) == fps["totalCount"] - 2
    fns = seg["falseNegativeSegments"]
    assert fns["totalCount"] == sum(r["falseNegatives"] for r in seg["segmentsPerLabel"])
    assert {e["node"]["annotation"]["item"]["referenceId"] for e in fns["edges"]} <= set(refs)


async def test_a_slice_equals_a_fresh_run_of_its_items(http: httpx.AsyncClient) -> None:
    refs = [f"img{k}" for k in range(8)]
    gts, dts = _masks(8, seed=2)
    run_id = await _upload_run(http, refs, gts, dts, "whole")
    assert (await _evaluate(http, run_id))["status"] == "SUCCEEDED"
    half = {"metadata": {"field": "half", "op": "EQ", "value": 1}}
    sliced = (await _metrics(http, run_id, half))["segmentation"]
    odd = [k for k in range(8) if k % 2 == 1]
    alone_id = await _upload_run(
        http, [refs[k] for k in odd], [gts[k] for k in odd], [dts[k] for k in odd], "alone"
    )
    assert (await _evaluate(http, alone_id))["status"] == "SUCCEEDED"
    alone = (await _metrics(http, alone_id))["segmentation"]
    for part in ("falsePositiveSegments", "falseNegativeSegments"):
        sliced.pop(part), alone.pop(part)  # their nodes name rows of different datasets
    assert sliced == alone


async def test_masks_and_boxes_in_one_run_keep_their_own_metrics(http: httpx.AsyncClient) -> None:
    refs = ["a", "b"]
    gts, dts = _masks(2, seed=3)
    run_id = await _upload_run(http, refs, gts, dts, "mixed")
    dataset = await graphql(
        http, "query($r: ID!) { modelRun(id: $r) { dataset { id } } }", {"r": run_id}
    )
    dataset_id = dataset["modelRun"]["dataset"]["id"]
    box = {"x": 1.0, "y": 1.0, "width": 10.0, "height": 8.0}
    for field, kind, id_name, target, extra in (
        ("upsertAnnotations", "AnnotationInput", "datasetId", dataset_id, {}),
        ("upsertPredictions", "PredictionInput", "modelRunId", run_id, {"confidence": 0.9}),
    ):
        data = await graphql(
            http,
            f"mutation($t: ID!, $rows: [{kind}!]!) {{ {field}({id_name}: $t, {field.removeprefix('upsert').lower()}: $rows) {{ ... on UpsertResult {{ new }} {ERRORS} }} }}",
            {"t": target, "rows": [{"referenceId": "a", "annotationId": "box", "label": "truck", "box": box, **extra}]},
        )  # fmt: skip
        assert data[field]["new"] == 1, data
    assert (await _evaluate(http, run_id))["status"] == "SUCCEEDED"
    metrics = await _metrics(http, run_id)
    assert (metrics["groundTruthCount"], metrics["predictionCount"]) == (1, 1)
    assert metrics["coco"]["ap"] == pytest.approx(1.0, abs=1e-12)  # the box alone, matched
    assert metrics["segmentation"]["labels"] == LABELS  # no "truck": the families stay apart
