"""Two runs of one COCO case for the comparison tests: a second detector derived from the
first, both uploaded and evaluated through the services, and pycocotools' own per-image
matches (``evalImgs``) recounted into found ground truths."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np

from bench.pycoco import pycocotools_eval
from sliceboard.jobs.evaluate import run_evaluation_job
from sliceboard.jobs.runner import JobRunner
from sliceboard.runtime import Runtime
from sliceboard.services import catalog, uploads
from sliceboard.services.evaluation import lifecycle
from sliceboard.services.evaluation.options import EvaluationOptions
from sliceboard.services.jobs import get_job
from sliceboard.storage.db import read_session, transaction
from tests.support.coco_cases import CocoCase
from tests.support.evaluation_upload import MAX_ROWS


def other_detector(case: CocoCase, seed: int) -> list[dict[str, Any]]:
    """A second run's detections: the first's jittered, rescored, some dropped, some added."""
    rng = np.random.default_rng(seed)
    out = []
    for det in case.detections:
        if rng.random() < 0.15:
            continue
        x, y, w, h = det["bbox"]
        jitter = rng.normal(0, 4, size=4)
        out.append(
            {
                **det,
                "bbox": [
                    x + jitter[0],
                    y + jitter[1],
                    max(1.0, w + jitter[2]),
                    max(1.0, h + jitter[3]),
                ],
                "score": round(float(np.clip(det["score"] + rng.normal(0, 0.2), 0, 1)), 1),
            }
        )
    for ann in case.dataset["annotations"]:  # finds some objects the first run missed
        if rng.random() < 0.3:
            x, y, w, h = ann["bbox"]
            out.append(
                {
                    "image_id": ann["image_id"],
                    "category_id": ann["category_id"],
                    "bbox": [x + rng.normal(0, 1), y + rng.normal(0, 1), w, h],
                    "score": round(float(rng.random()), 1),
                }
            )
    images = [i["id"] for i in case.dataset["images"]]
    categories = [c["id"] for c in case.dataset["categories"]]
    for _ in range(len(images)):
        out.append(
            {
                "image_id": int(rng.choice(images)),
                "category_id": int(rng.choice(categories)),
                "bbox": [float(v) for v in rng.uniform(0, 300, size=2)] + [40.0, 40.0],
                "score": round(float(rng.random()), 1),
            }
        )
    return out


def _rows(case: CocoCase, detections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    key_of = {i["id"]: i["key"] for i in case.dataset["images"]}
    name_of = {c["id"]: c["name"] for c in case.dataset["categories"]}
    return [
        {
            "reference_id": key_of[d["image_id"]],
            "annotation_id": f"dt-{k}",
            "label": name_of[d["category_id"]],
            "box": dict(zip(("x", "y", "width", "height"), d["bbox"], strict=True)),
            "confidence": d["score"],
        }
        for k, d in enumerate(detections)
    ]


async def add_run(
    runtime: Runtime, case: CocoCase, dataset_id: str, detections: list[dict[str, Any]], name: str
) -> str:
    """Another model's run of ``detections`` on the uploaded case's dataset."""
    async with transaction(runtime.sessions) as session:
        model = await catalog.create_model(session, name=name, reference_id=name, metadata=None)
        run = await catalog.create_model_run(
            session, model_id=str(model.id), dataset_id=dataset_id, name=name
        )
        await uploads.upsert_predictions(
            session,
            model_run_id=str(run.id),
            predictions=_rows(case, detections),
            update=False,
            max_rows=MAX_ROWS,
        )
    return str(run.id)


async def evaluate_now(
    runtime: Runtime, run_id: str, options: EvaluationOptions | None = None
) -> None:
    async with transaction(runtime.sessions) as session:
        job = await lifecycle.request_evaluation(
            session, model_run_id=run_id, options=options or EvaluationOptions(), max_attempts=1
        )
    runner = JobRunner(runtime, handlers={"evaluate": run_evaluation_job})
    assert await runner.run_next() == job.id
    await runner.stop()
    async with read_session(runtime.sessions) as session:
        done = await get_job(session, job_id=str(job.id))
    assert done is not None and done.status == "SUCCEEDED", done


def pycocotools_found(
    case: CocoCase,
    detections: list[dict[str, Any]],
    iou_threshold: float = 0.5,
    confidence_threshold: float = 0.0,
) -> dict[int, tuple[int, bool]]:
    """{annotation id: (category id, found)} of every counted ground truth, from pycocotools'
    evalImgs on area "all" at the largest maxDets."""
    with contextlib.redirect_stdout(io.StringIO()):
        ev = pycocotools_eval(case.dataset, detections, "bbox")
    t = int(np.flatnonzero(np.abs(ev.params.iouThrs - iou_threshold) < 1e-9)[0])
    scores = {k + 1: d["score"] for k, d in enumerate(detections)}  # loadRes numbers them 1..N
    out: dict[int, tuple[int, bool]] = {}
    for e in ev.evalImgs:
        if e is None or e["aRng"] != [0, 1e10] or e["maxDet"] != ev.params.maxDets[-1]:
            continue
        for j, gt_id in enumerate(e["gtIds"]):
            if e["gtIgnore"][j]:
                continue
            matched = int(e["gtMatches"][t][j])
            found = matched > 0 and scores[matched] >= confidence_threshold
            out[int(gt_id)] = (int(e["category_id"]), found)
    return out
