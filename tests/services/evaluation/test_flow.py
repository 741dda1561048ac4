"""Evaluating a run end to end below GraphQL: upload a COCO case through the services, run the
``evaluate`` job, and compare the metrics of the whole run and of a metadata slice with
pycocotools on the same data (both backends)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from sliceboard.compute.ranked_thread import RankedThread
from sliceboard.compute.report_process import forget
from sliceboard.evaluation import FALSE_POSITIVE, TRUE_POSITIVE
from sliceboard.jobs.evaluate import run_evaluation_job
from sliceboard.jobs.runner import JobRunner
from sliceboard.runtime import Runtime
from sliceboard.services import uploads
from sliceboard.services.evaluation import cache as evaluation_cache
from sliceboard.services.evaluation import lifecycle, report_parts
from sliceboard.services.evaluation import results as evaluation_results
from sliceboard.services.evaluation.cache import SnapshotCache
from sliceboard.services.evaluation.options import EvaluationOptions
from sliceboard.services.evaluation.snapshot import Snapshot
from sliceboard.services.jobs import get_job
from sliceboard.storage.db import read_session, transaction
from sliceboard.storage.tables import ModelRun
from tests.support.coco_cases import case_stats, make_case
from tests.support.evaluation_upload import MAX_ROWS, upload_case


async def evaluate_now(
    runtime: Runtime, run_id: str, options: EvaluationOptions | None = None
) -> str:
    async with transaction(runtime.sessions) as session:
        job = await lifecycle.request_evaluation(
            session,
            model_run_id=run_id,
            options=options or EvaluationOptions(),
            max_attempts=1,
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
    np.testing.assert_allclose(coco_vector(whole), case_stats(case), rtol=0, atol=1e-12)
    assert whole.item_count == 30
    assert whole.ground_truth_count == len(case.dataset["annotations"])
    assert whole.prediction_count == len(case.detections)

    even = {"metadata": {"field": "split", "op": "EQ", "value": "even"}}
    sliced = await report(runtime, run_id, filter=even)
    even_ids = [i["id"] for i in case.dataset["images"] if i["id"] % 2 == 0]
    np.testing.assert_allclose(coco_vector(sliced), case_stats(case, even_ids), rtol=0, atol=1e-12)
    assert sliced.item_count == len(even_ids)


def recount(snapshot: Snapshot, iou: float, confidence: float) -> dict[str, tuple[int, int, int]]:
    """(TP, FP, FN) per label name, counted from the stored arrays one object at a time.

    Read as the protocol defines the counts, not as the service computes them: a prediction
    with score >= ``confidence`` is a TP when its state on the threshold's "all" row is TP
    (in its matched ground truth's label), an FP when it is FP; a ground truth that is neither
    crowd, ignored nor outside the "all" area range is an FN unless its matched prediction
    (``gt_dt``) clears the confidence threshold.
    """
    table = snapshot.table
    all_rows = [r for r in range(len(table.row_area)) if table.row_area[r] == 0]
    [row] = [r for r in all_rows if abs(float(table.row_threshold[r]) - iou) < 1e-9]
    t0 = all_rows.index(row)
    matched_gt, gt_match = table.dt_gt[t0], table.gt_dt[t0]
    counts = {name: [0, 0, 0] for name in snapshot.label_names}
    for p, state in enumerate(table.dt_state[row].tolist()):
        if table.dt_score[p] < confidence:
            continue
        if state == TRUE_POSITIVE:
            counts[snapshot.label_names[table.gt_label[matched_gt[p]]]][0] += 1
        elif state == FALSE_POSITIVE:
            counts[snapshot.label_names[table.dt_label[p]]][1] += 1
    low, high = float(table.area_low[0]), float(table.area_high[0])
    for g in range(len(table.gt_label)):
        if table.gt_iscrowd[g] or table.gt_ignore[g] or not low <= table.gt_area[g] <= high:
            continue
        p = int(gt_match[g])
        if p < 0 or table.dt_score[p] < confidence:
            counts[snapshot.label_names[table.gt_label[g]]][2] += 1
    return {name: (tp, fp, fn) for name, (tp, fp, fn) in counts.items()}


async def test_counts_match_a_recount_of_the_match_table_at_each_threshold(
    runtime: Runtime,
) -> None:
    case = make_case(seed=9, n_images=12)
    _, run_id = await upload_case(runtime, case)
    await evaluate_now(runtime, run_id)
    async with read_session(runtime.sessions) as session:
        stored = await new_cache(runtime, worker=False).get(
            session, await _current_evaluation(runtime, run_id)
        )
    for iou in (0.1, 0.5, 0.9):
        data = await report(runtime, run_id, iou_threshold=iou, confidence_threshold=0.3)
        reported = {
            row.label: (row.true_positives, row.false_positives, row.false_negatives)
            for row in data.per_label
        }
        expected = recount(stored, iou, 0.3)
        assert reported == expected
        assert sum(tp + fn for tp, _, fn in expected.values()) > 0  # the case has ground truth
        for row in data.per_label:
            if row.true_positives + row.false_positives:
                assert row.precision == pytest.approx(
                    row.true_positives / (row.true_positives + row.false_positives)
                )
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
    expected = case_stats(case, even_ids)

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
        [forgot.coco[n] for n in report_parts.COCO_FIELDS], case_stats(case), atol=1e-12
    )


async def _current_evaluation(runtime: Runtime, run_id: str) -> int:
    async with read_session(runtime.sessions) as session:
        run = await session.get(ModelRun, int(run_id))
        assert run is not None and run.current_evaluation_id is not None
        return run.current_evaluation_id


async def test_admission_is_in_arrival_order_and_never_waits_long() -> None:
    """Metric requests take turns in arrival order; one that holds its turn too long (a slow
    filter) delays the next by ADMISSION_WAIT at most."""
    cache = SnapshotCache(worker=None, thread=RankedThread("test"))
    order: list[int] = []

    async def request(
        k: int, release: asyncio.Event | None = None, holding: asyncio.Event | None = None
    ) -> None:
        async with cache.admitted():
            order.append(k)
            if holding is not None:
                holding.set()
            # hold the turn until released, or across one pass of the loop (the others queue)
            await (asyncio.sleep(0) if release is None else release.wait())

    await asyncio.gather(*(request(k) for k in range(5)))
    assert order == [0, 1, 2, 3, 4]

    loop = asyncio.get_running_loop()
    holding, never = asyncio.Event(), asyncio.Event()
    slow = asyncio.ensure_future(request(9, never, holding))
    await asyncio.wait_for(holding.wait(), 5)  # the slow request holds its turn
    started = loop.time()
    await asyncio.wait_for(request(10), 5)  # waiting for the turn would never end
    assert loop.time() - started < evaluation_cache.ADMISSION_WAIT + 0.2
    assert order[-2:] == [9, 10] and not slow.done()
    slow.cancel()
