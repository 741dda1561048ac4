"""A precision/recall curve answers at most ``max_list_items`` points, ends included."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sliceboard.config import Settings
from sliceboard.jobs.evaluate import run_evaluation_job
from sliceboard.jobs.runner import JobRunner
from sliceboard.runtime import Runtime
from sliceboard.schema.evaluation.report import evenly_spaced
from sliceboard.services.evaluation import lifecycle
from sliceboard.services.evaluation.options import EvaluationOptions
from tests.support.coco_cases import make_case
from tests.support.evaluation_upload import upload_case
from tests.support.graphql import Executor


def test_short_curves_are_answered_whole() -> None:
    points = list(range(5))
    assert evenly_spaced(points, 5) == points
    assert evenly_spaced(points, 1000) == points


def test_long_curves_keep_both_ends_and_even_steps() -> None:
    points = list(range(1001))
    assert evenly_spaced(points, 11) == [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
    assert evenly_spaced(points, 2) == [0, 1000]
    assert evenly_spaced(points, 1) == [1000]
    assert len(evenly_spaced(list(range(3_000_000)), 1000)) == 1000


async def test_the_metrics_field_answers_the_bounded_curve(settings: Settings) -> None:
    runtime = Runtime.create(settings)
    try:
        _, run_id = await upload_case(runtime, make_case(seed=3, n_images=20))
        async with runtime.unit_of_work() as session:
            job = await lifecycle.request_evaluation(
                session, model_run_id=run_id, options=EvaluationOptions(), max_attempts=1
            )
        assert await JobRunner(runtime, {"evaluate": run_evaluation_job}).run_next() == job.id
        query = (
            f'{{ modelRun(id: "{run_id}") {{ metrics {{ precisionRecallCurve {{ recall }} }} }} }}'
        )

        async def curve(limit: int) -> list[Any]:
            bounded = replace(runtime, settings=replace(settings, max_list_items=limit))
            data = await Executor(bounded).data(query)
            return [p["recall"] for p in data["modelRun"]["metrics"]["precisionRecallCurve"]]

        whole = await curve(10_000)  # above this run's prediction count
        assert len(whole) > 5
        assert await curve(5) == evenly_spaced(whole, 5)
    finally:
        await runtime.close()
