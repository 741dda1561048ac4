"""Evaluating a run end to end below GraphQL: upload a COCO case through the services, run the
``evaluate`` job, and compare the metrics of the whole run and of a metadata slice with
pycocotools on the same data (both backends)."""

from __future__ import annotations

import asyncio
import contextlib
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from sliceboard.compute.ranked_thread import RankedThread
from sliceboard.compute.report_process import forget
from sliceboard.jobs.evaluate import run_evaluation_job
from sliceboard.jobs.runner import JobRunner
from sliceboard.runtime import Runtime
from sliceboard.services import (
    catalog,
    evaluation,
    evaluation_results,
    report_parts,
    uploads,
)
from sliceboard.services.evaluation_cache import SnapshotCache
from sliceboard.services.jobs import get_job
from sliceboard.storage.db import read_session, transaction
from sliceboard.storage.tables import ModelRun
from tests.evaluation.coco_cases import CocoCase, make_case

MAX_ROWS = 1_000_000


def pycocotools_stats(case: CocoCase, image_ids: list[int] | None = None) -> np.ndarray:
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = case.dataset
        gt.createIndex()
        dt = gt.loadRes([dict(d) for d in case.detections])
        evaluator = COCOeval(gt, dt, "bbox")
        if image_ids is not None:
            evaluator.params.imgIds = sorted(image_ids)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return np.asarray(evaluator.stats)


async def upload_case(runtime: Runtime, case: CocoCase) -> tuple[str, str]:
    """The case as a dataset (items in image-id order, metadata split = even/odd) and a run."""
    images = sorted(case.dataset["images"], key=lambda i: i["id"])
    key_of = {i["id"]: i["key"] for i in images}
    name_of = {c["id"]: c["name"] for c in case.dataset["categories"]}
    async with transaction(runtime.sessions) as session:
        dataset = await catalog.create_dataset(session, name="coco", metadata=None)
        dataset_id = str(dataset.id)
        items = [
            {
                "reference_id": key_of[i["id"]],
                "width": i["width"],
                "height": i["height"],
                "metadata": {"split": "even" if i["id"] % 2 == 0 else "odd", "n": i["id"]},
            }
            for i in images
        ]
        await uploads.upsert_items(
            session, dataset_id=dataset_id, items=items, update=False, max_rows=MAX_ROWS
        )
        annotations = [
            {
                "reference_id": key_of[a["image_id"]],
                "annotation_id": f"gt-{a['id']}",
                "label": name_of[a["category_id"]],
                "box": dict(zip(("x", "y", "width", "height"), a["bbox"], strict=True)),
                "area": a["area"],
                "iscrowd": bool(a["iscrowd"]),
            }
            for a in case.dataset["annotations"]
        ]
        await uploads.upsert_annotations(
            session, dataset_id=dataset_id, annotations=annotations, update=False, max_rows=MAX_ROWS
        )
        model = await catalog.create_model(session, name="m", reference_id="m", metadata=None)
        run = await catalog.create_model_run(
            session, model_id=str(model.id), dataset_id=dataset_id, name="r"
        )
        run_id = str(run.id)
        predictions = [
            {
                "reference_id": key_of[d["image_id"]],
                "annotation_id": f"dt-{k}",
                "label": name_of[d["category_id"]],
                "box": dict(zip(("x", "y", "width", "height"), d["bbox"], strict=True)),
                "confidence": d["score"],
            }
            for k, d in enumerate(case.detections)
        ]
        await uploads.upsert_predictions(
            session, model_run_id=run_id, predictions=predictions, update=False, max_rows=MAX_ROWS
        )
    return dataset_id, run_id


async def evaluate_now(runtime: Runtime, run_id: str, options: dict[str, Any] | None = None) -> str:
    async with transaction(runtime.sessions) as session:
        job = await evaluation.request_evaluation(
            session, model_run_id=run_id, options=options, max_attempts=1
        )
    runner = JobRunner(runtime, handlers={"evaluate": run_evaluation_job})
    assert await runner.run_next() == job.id
    await runner.stop()
    async with read_session(runtime.sessions) as session:
        done = await get_job(session, job_id=str(job.id))
    assert done is not None
    assert done.status == "SUCCEEDED", done.error
    return str(job.id)


@dataclass
class Resolved:
    """Every part of a report, awaited."""

    item_count: int
    ground_truth_count: int
    prediction_count: int
    coco: dict[str, float]
    per_label: list[evaluation_results.LabelRow]
    confusion_labels: list[str]
    confusion_counts: list[list[int]]


def new_cache(runtime: Runtime, *, worker: bool = True) -> SnapshotCache:
    """A cold cache on the runtime's machinery, with its report worker or without one."""
    compute = runtime.compute
    return SnapshotCache(
        worker=compute.report_worker if worker else None, thread=compute.report_thread
    )


async def find_report(
    runtime: Runtime, run_id: str, cache: SnapshotCache | None = None, **kwargs: Any
) -> evaluation_results.Report:
    """The run's report (GraphQL's defaults, overridden by ``kwargs``) through ``cache``."""
    async with read_session(runtime.sessions) as session:
        run = await session.get(ModelRun, int(run_id))
        assert run is not None
        arguments: dict[str, Any] = {
            "filter": None, "slice_id": None, "iou_threshold": 0.5,
            "confidence_threshold": 0.0, "labels": None,
        }  # fmt: skip
        arguments.update(kwargs)
        return await evaluation_results.metrics_report(
            session, cache or new_cache(runtime), run=run, **arguments
        )


async def report(runtime: Runtime, run_id: str, **kwargs: Any) -> Resolved:
    found = await find_report(runtime, run_id, **kwargs)
    labels, counts = await found.confusion()
    return Resolved(
        found.item_count,
        found.ground_truth_count,
        found.prediction_count,
        await found.coco(),
        await found.per_label(),
        labels,
        counts,
    )


def coco_vector(data: Resolved) -> np.ndarray:
    return np.array([data.coco[name] for name in report_parts.COCO_FIELDS])


@pytest.mark.slow
async def test_run_metrics_equal_pycocotools_for_the_run_and_a_slice(runtime: Runtime) -> None:
    case = make_case(seed=5, n_images=30)
    _, run_id = await upload_case(runtime, case)
    await evaluate_now(runtime, run_id)

    whole = await report(runtime, run_id)
    np.testing.assert_allclose(coco_vector(whole), pycocotools_stats(case), rtol=0, atol=1e-12)
    assert whole.item_count == 30
    assert whole.ground_truth_count == len(case.dataset["annotations"])
    assert whole.prediction_count == len(case.detections)

    even = {"metadata": {"field": "split", "op": "EQ", "value": "even"}}
    sliced = await report(runtime, run_id, filter=even)
    even_ids = [i["id"] for i in case.dataset["images"] if i["id"] % 2 == 0]
    np.testing.assert_allclose(
        coco_vector(sliced), pycocotools_stats(case, even_ids), rtol=0, atol=1e-12
    )
    assert sliced.item_count == len(even_ids)


async def test_counts_match_a_recount_of_the_match_table_at_each_threshold(
    runtime: Runtime,
) -> None:
    case = make_case(seed=9, n_images=12)
    _, run_id = await upload_case(runtime, case)
    await evaluate_now(runtime, run_id)
    for iou in (0.1, 0.5, 0.9):
        data = await report(runtime, run_id, iou_threshold=iou, confidence_threshold=0.3)
        for row in data.per_label:
            if row.true_positives + row.false_positives:
                assert row.precision == pytest.approx(
                    row.true_positives / (row.true_positives + row.false_positives)
                )
            assert row.true_positives + row.false_negatives >= 0
        assert len(data.confusion_counts) == len(data.confusion_labels) + 1
        total_tp = sum(r.true_positives for r in data.per_label)
        diagonal = sum(data.confusion_counts[k][k] for k in range(len(data.confusion_labels)))
        assert diagonal == total_tp


async def test_a_remembered_filter_follows_items_and_ground_truth_changes(
    runtime: Runtime,
) -> None:
    """Filter answers are kept per data versions: a new item metadata value or a new ground
    truth label moves the slice, and asking again without a change reuses the report."""
    case = make_case(seed=11, n_images=10)
    dataset_id, run_id = await upload_case(runtime, case)
    await evaluate_now(runtime, run_id)
    cache = new_cache(runtime)
    images = sorted(case.dataset["images"], key=lambda i: i["id"])

    async def slice_report(filter: dict[str, Any]) -> evaluation_results.Report:
        return await find_report(runtime, run_id, cache, filter=filter)

    even = {"metadata": {"field": "split", "op": "EQ", "value": "even"}}
    first = await slice_report(even)
    assert first.item_count == 5
    assert await slice_report(even) is first
    odd_image = images[0]
    assert odd_image["id"] % 2 == 1
    async with transaction(runtime.sessions) as session:
        await uploads.upsert_items(
            session,
            dataset_id=dataset_id,
            items=[{"reference_id": odd_image["key"], "width": 640, "height": 480,
                    "metadata": {"split": "even"}}],
            update=True,
            max_rows=MAX_ROWS,
        )  # fmt: skip
    assert (await slice_report(even)).item_count == 6

    labelled = {"hasAnnotationLabel": ["new-label"]}
    assert (await slice_report(labelled)).item_count == 0
    async with transaction(runtime.sessions) as session:
        await uploads.upsert_annotations(
            session,
            dataset_id=dataset_id,
            annotations=[{"reference_id": odd_image["key"], "annotation_id": "extra",
                          "label": "new-label", "box": {"x": 1, "y": 1, "width": 5, "height": 5}}],
            update=False,
            max_rows=MAX_ROWS,
        )  # fmt: skip
    assert (await slice_report(labelled)).item_count == 1


async def test_reports_agree_in_the_worker_in_process_and_after_the_worker_forgot(
    runtime: Runtime,
) -> None:
    """The worker process, this process (no worker), and the fallback when the worker no
    longer maps the snapshot (its file is gone) give the same numbers, equal to pycocotools."""
    case = make_case(seed=13, n_images=16)
    _, run_id = await upload_case(runtime, case)
    await evaluate_now(runtime, run_id)
    even = {"metadata": {"field": "split", "op": "EQ", "value": "even"}}
    even_ids = [i["id"] for i in case.dataset["images"] if i["id"] % 2 == 0]
    expected = pycocotools_stats(case, even_ids)

    async def numbers(cache: SnapshotCache) -> tuple[np.ndarray, list[Any]]:
        found = await find_report(runtime, run_id, cache, filter=even, confidence_threshold=0.3)
        coco = await found.coco()
        return np.array([coco[n] for n in report_parts.COCO_FIELDS]), await found.per_label()

    with_worker = new_cache(runtime)
    in_process = new_cache(runtime, worker=False)
    worker_numbers, worker_rows = await numbers(with_worker)
    local_numbers, local_rows = await numbers(in_process)
    assert with_worker.shared(int(await _current_evaluation(runtime, run_id))) is not None
    np.testing.assert_allclose(worker_numbers, expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(worker_numbers, local_numbers)
    assert worker_rows == local_rows

    evaluation_id = await _current_evaluation(runtime, run_id)
    shared = with_worker.shared(evaluation_id)
    assert shared is not None
    await runtime.compute.report_worker.call(0, forget, shared)
    async with read_session(runtime.sessions) as session:
        snapshot = await with_worker.get(session, evaluation_id)
    forgot = await with_worker.part(0, snapshot, shared, "summary", (None, None))
    np.testing.assert_allclose(
        [forgot.coco[n] for n in report_parts.COCO_FIELDS], pycocotools_stats(case), atol=1e-12
    )


async def _current_evaluation(runtime: Runtime, run_id: str) -> int:
    async with read_session(runtime.sessions) as session:
        run = await session.get(ModelRun, int(run_id))
        assert run is not None and run.current_evaluation_id is not None
        return run.current_evaluation_id


async def test_admission_is_in_arrival_order_and_never_waits_long() -> None:
    """Metric requests take turns in arrival order; one that holds its turn too long (a slow
    filter) delays the next by ADMISSION_WAIT at most."""
    from sliceboard.services import evaluation_cache

    cache = SnapshotCache(worker=None, thread=RankedThread("test"))
    order: list[int] = []

    async def request(k: int, hold: float) -> None:
        async with cache.admitted():
            order.append(k)
            await asyncio.sleep(hold)

    await asyncio.gather(*(request(k, 0.001) for k in range(5)))
    assert order == [0, 1, 2, 3, 4]

    loop = asyncio.get_running_loop()
    slow = asyncio.ensure_future(request(9, 1.0))
    await asyncio.sleep(0)
    started = loop.time()
    await request(10, 0.0)
    assert loop.time() - started < evaluation_cache.ADMISSION_WAIT + 0.2
    slow.cancel()
