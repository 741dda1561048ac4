"""The memory estimate an evaluation job checks before computing (issue 11 §3) is not below what
the computation then takes (``tracemalloc`` peak, numpy included), and grows with the options
that drive it."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator

import pytest

from sliceboard.config import Settings
from sliceboard.runtime import Runtime
from sliceboard.services.evaluation import lifecycle
from sliceboard.services.evaluation.memory import estimate_memory
from sliceboard.services.evaluation.options import EvaluationOptions
from sliceboard.storage.db import read_session, transaction
from sliceboard.storage.evaluation_data import RunData
from tests.support.coco_cases import make_case
from tests.support.evaluation_upload import upload_case

GRID = tuple(round(0.05 * k, 2) for k in range(1, 21))


@pytest.fixture
async def run_data(sqlite_url: str) -> AsyncIterator[RunData]:
    runtime = Runtime.create(Settings(database_url=sqlite_url, run_jobs=False))
    try:
        _dataset, run_id = await upload_case(runtime, make_case(7, n_images=60))
        async with transaction(runtime.sessions) as session:
            job = await lifecycle.request_evaluation(
                session, model_run_id=run_id, options=EvaluationOptions(), max_attempts=1
            )
        assert job.payload is not None
        async with read_session(runtime.sessions) as session:
            work = await lifecycle.load_work(
                session, evaluation_id=int(job.payload["evaluation_id"])
            )
        assert work is not None
        yield work.data
    finally:
        await runtime.close()


@pytest.mark.parametrize(
    "options",
    [
        EvaluationOptions(),
        EvaluationOptions(iou_thresholds=GRID),
        EvaluationOptions(iou_thresholds=GRID, class_agnostic=True),
    ],
    ids=["coco", "twenty-thresholds", "class-agnostic"],
)
def test_the_estimate_covers_the_measured_peak(
    run_data: RunData, options: EvaluationOptions
) -> None:
    estimate = estimate_memory(run_data, options)
    tracemalloc.start()
    try:
        lifecycle.compute_snapshot(run_data, options)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert estimate.bytes >= peak
    assert estimate.bytes < 20 * peak  # an estimate, not a refusal of everything


def test_the_estimate_counts_rows_and_pairs(run_data: RunData) -> None:
    coco = estimate_memory(run_data, EvaluationOptions())
    grid = estimate_memory(run_data, EvaluationOptions(iou_thresholds=GRID))
    agnostic = estimate_memory(run_data, EvaluationOptions(class_agnostic=True))
    assert (coco.rows, grid.rows) == (4 * 10 + 9, 4 * 20)  # the low thresholds are on the grid
    assert coco.predictions == len(run_data.predictions.ids)
    assert coco.ground_truths == len(run_data.ground_truth.ids)
    assert 0 < coco.pairs < agnostic.pairs
    assert coco.bytes < grid.bytes < 2 * coco.bytes * 80 / 49
