"""Requests for an evaluation (issue 11 §3, §5): a second identical request while one is queued
or running answers the existing job; a run holds at most a set number of queued evaluations;
concurrent requests on one run never collide on its next version (PostgreSQL once answered
UniqueViolation on ``uq_evaluation_version`` to 77 of 537 requests)."""

from __future__ import annotations

import asyncio

import pytest

from sliceboard.errors import InvalidInput
from sliceboard.runtime import Runtime
from sliceboard.services.evaluation import lifecycle
from sliceboard.services.evaluation.options import EvaluationOptions
from sliceboard.services.jobs import cancel_job
from sliceboard.storage.db import transaction
from sliceboard.storage.tables import Evaluation, Job
from tests.support.factories import fetch_all, setup_dataset, setup_run


async def _request(
    runtime: Runtime, run_id: str, options: EvaluationOptions, *, max_queued: int = 10
) -> Job:
    async with transaction(runtime.sessions) as session:
        return await lifecycle.request_evaluation(
            session, model_run_id=run_id, options=options, max_attempts=1, max_queued=max_queued
        )


async def _run(runtime: Runtime) -> str:
    return await setup_run(runtime.sessions, await setup_dataset(runtime.sessions, ["a"]))


async def test_an_identical_request_answers_the_job_in_progress(runtime: Runtime) -> None:
    run_id = await _run(runtime)
    first = await _request(runtime, run_id, EvaluationOptions(iou_thresholds=(0.5, 0.75)))
    same = await _request(runtime, run_id, EvaluationOptions(iou_thresholds=(0.75, 0.5)))
    other = await _request(runtime, run_id, EvaluationOptions(iou_thresholds=(0.5,)))
    assert same.id == first.id
    assert other.id != first.id
    async with transaction(runtime.sessions) as session:
        await cancel_job(session, job_id=str(first.id))
    again = await _request(runtime, run_id, EvaluationOptions(iou_thresholds=(0.5, 0.75)))
    assert again.id not in (first.id, other.id)  # a cancelled job is not shared
    versions = [row.version for row in await fetch_all(runtime.sessions, Evaluation)]
    assert versions == [1, 2, 3]


async def test_a_run_holds_at_most_the_set_number_of_queued_evaluations(runtime: Runtime) -> None:
    run_id = await _run(runtime)
    for k in range(3):
        await _request(runtime, run_id, EvaluationOptions(max_detections=k + 1), max_queued=3)
    with pytest.raises(InvalidInput) as raised:
        await _request(runtime, run_id, EvaluationOptions(max_detections=9), max_queued=3)
    assert [issue.path for issue in raised.value.issues] == ["modelRunId"]
    assert "3 evaluations queued" in raised.value.issues[0].message
    shared = await _request(runtime, run_id, EvaluationOptions(max_detections=2), max_queued=3)
    assert shared.id == 2  # an identical request still answers its job at the cap
    other_run = await setup_run(
        runtime.sessions, await setup_dataset(runtime.sessions, ["b"], "d2"), "m2"
    )
    await _request(runtime, other_run, EvaluationOptions(max_detections=9), max_queued=3)
    assert len(await fetch_all(runtime.sessions, Job)) == 4


async def test_concurrent_requests_take_distinct_versions(runtime: Runtime) -> None:
    run_id = await _run(runtime)
    for round_ in range(3):
        distinct = [
            _request(runtime, run_id, EvaluationOptions(max_detections=100 + 10 * round_ + k))
            for k in range(8)
        ]
        results = await asyncio.gather(*distinct, return_exceptions=True)
        assert [r for r in results if isinstance(r, BaseException)] == []
        async with transaction(runtime.sessions) as session:
            for job in results:
                assert isinstance(job, Job)
                await cancel_job(session, job_id=str(job.id))  # stay under the queue cap
    versions = sorted(row.version for row in await fetch_all(runtime.sessions, Evaluation))
    assert versions == list(range(1, 25))


async def test_concurrent_identical_requests_share_one_job(runtime: Runtime) -> None:
    run_id = await _run(runtime)
    same = [_request(runtime, run_id, EvaluationOptions()) for _ in range(8)]
    results = await asyncio.gather(*same, return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert len({job.id for job in results if isinstance(job, Job)}) == 1
    assert len(await fetch_all(runtime.sessions, Evaluation)) == 1
