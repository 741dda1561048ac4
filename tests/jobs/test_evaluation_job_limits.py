"""The ``evaluate`` job under the limits of issue 11 §3, through the real runner and process pool:
a run over the memory budget fails before computing, a worker that dies (SIGKILL, as from the
out-of-memory killer) fails the job after its attempts with a message that says so and leaves
this process serving, and cancelling a running evaluation stops it - worker and all - within 2 s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from sliceboard.config import Settings
from sliceboard.jobs.evaluate import run_evaluation_job
from sliceboard.jobs.runner import JobRunner
from sliceboard.runtime import Runtime
from sliceboard.services.evaluation import lifecycle
from sliceboard.services.evaluation.options import EvaluationOptions
from sliceboard.services.jobs import cancel_job
from sliceboard.storage.db import read_session, transaction
from sliceboard.storage.tables import Evaluation
from tests.support import worker_stand_ins
from tests.support.coco_cases import make_case
from tests.support.evaluation_upload import upload_case
from tests.support.jobs import load, wait_for


@pytest.fixture
async def tight_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime.create(replace(settings, evaluation_memory_mb=1))
    yield runtime
    await runtime.close()


async def _request(runtime: Runtime, run_id: str, *, max_attempts: int = 1) -> tuple[int, int]:
    """Queues an evaluation; its job id and evaluation id."""
    async with transaction(runtime.sessions) as session:
        job = await lifecycle.request_evaluation(
            session, model_run_id=run_id, options=EvaluationOptions(), max_attempts=max_attempts
        )
    assert job.id is not None and job.payload is not None
    return job.id, int(job.payload["evaluation_id"])


async def _evaluation(runtime: Runtime, evaluation_id: int) -> Evaluation:
    async with read_session(runtime.sessions) as session:
        row = await session.get(Evaluation, evaluation_id)
    assert row is not None
    return row


def _runner(runtime: Runtime) -> JobRunner:
    return JobRunner(runtime, {"evaluate": run_evaluation_job}, retry_base_seconds=0.0)


async def test_a_run_over_the_memory_budget_fails_before_computing(tight_runtime: Runtime) -> None:
    _dataset, run_id = await upload_case(tight_runtime, make_case(3))
    job_id, evaluation_id = await _request(tight_runtime, run_id)
    assert await _runner(tight_runtime).run_next() == job_id
    job = await load(tight_runtime, job_id)
    assert job.status == "FAILED"
    assert job.error is not None
    assert "over the budget of 1 MB (SLICEBOARD_EVALUATION_MEMORY_MB)" in job.error
    assert "49 match rows" in job.error  # COCO's 4 area ranges x 10 thresholds + 9 low ones
    row = await _evaluation(tight_runtime, evaluation_id)
    assert (row.status, row.error) == ("FAILED", job.error)
    assert tight_runtime.compute.process_pool._pool is None  # no worker was ever started


async def test_a_killed_worker_fails_the_job_after_its_attempts_and_this_process_lives_on(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    _dataset, run_id = await upload_case(runtime, make_case(4))
    job_id, evaluation_id = await _request(runtime, run_id, max_attempts=2)
    monkeypatch.setattr(lifecycle, "compute_snapshot", worker_stand_ins.kill_own_worker)
    runner = _runner(runtime)
    assert await runner.run_next() == job_id
    assert (await load(runtime, job_id)).status == "QUEUED"  # the first attempt is retried
    assert (await _evaluation(runtime, evaluation_id)).status == "RUNNING"
    assert await runner.run_next() == job_id
    job = await load(runtime, job_id)
    assert job.status == "FAILED"
    # How it died is read from the worker's exit code, which a loaded machine may not have
    # reaped in time ("exited"); that it died, and on which attempt, is always said.
    died = ("the worker process was killed by SIGKILL (the out-of-memory killer sends it)",
            "the worker process exited")  # fmt: skip
    endings = tuple(f"{d} while computing (attempt 2 of 2)" for d in died)
    assert job.error is not None and job.error.startswith("WorkerDied: ")
    assert job.error.removeprefix("WorkerDied: ") in endings
    row = await _evaluation(runtime, evaluation_id)
    assert row.status == "FAILED" and row.error in endings
    assert await runner.run_next() is None  # never claimed again

    monkeypatch.undo()  # the same runtime evaluates again on a fresh worker
    again, _ = await _request(runtime, run_id)
    assert await runner.run_next() == again
    assert (await load(runtime, again)).status == "SUCCEEDED"


async def _until(condition: Callable[[], object], what: str, timeout: float) -> float:
    """Seconds until ``condition()`` held, polled every 10 ms."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"{what} within {timeout} s"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


def _gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


async def test_cancelling_a_running_evaluation_stops_it_within_two_seconds(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Cancelled as another process would (no in-process notice): the runner's poll finds it."""
    marker = tmp_path / "worker-pid"
    monkeypatch.setenv(worker_stand_ins.MARKER_VARIABLE, str(marker))
    monkeypatch.setattr(lifecycle, "compute_snapshot", worker_stand_ins.slow_snapshot)
    _dataset, run_id = await upload_case(runtime, make_case(5))
    job_id, evaluation_id = await _request(runtime, run_id)
    runner = _runner(runtime)
    await runner.start()
    try:
        runtime.wake_jobs()
        await _until(lambda: marker.exists() and marker.read_text(), "the evaluation started", 60.0)
        worker = int(marker.read_text())
        assert not _gone(worker)
        started = time.monotonic()
        async with transaction(runtime.sessions) as session:
            await cancel_job(session, job_id=str(job_id))
        job = await wait_for(runtime, job_id, {"CANCELLED"}, timeout=2.0)
        assert time.monotonic() - started < 2.0
        await _until(
            lambda: _gone(worker), "the worker process is gone", 2.0 - (time.monotonic() - started)
        )
        assert job.status == "CANCELLED"
        assert (await _evaluation(runtime, evaluation_id)).status == "CANCELLED"
    finally:
        await runner.stop()
