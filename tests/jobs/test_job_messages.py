"""A job's message is its own: an attempt starts from no message and progress 0, and the job
ends with the last message its handler reported (not an earlier, throttled one)."""

from __future__ import annotations

from sliceboard.jobs.context import JobContext
from sliceboard.jobs.runner import JobRunner
from sliceboard.runtime import Runtime
from sliceboard.services.jobs import enqueue_job
from sliceboard.storage import jobs as job_store
from sliceboard.storage.db import read_session, transaction
from sliceboard.storage.tables import Job


async def _enqueue(runtime: Runtime) -> int:
    async with transaction(runtime.sessions) as session:
        job = await enqueue_job(session, kind="test", payload={}, max_attempts=3)
        assert job.id is not None
        return job.id


async def _load(runtime: Runtime, job_id: int) -> Job:
    async with read_session(runtime.sessions) as session:
        job = await job_store.select_job(session=session, job_id=job_id)
    assert job is not None
    return job


async def test_an_attempt_starts_without_the_previous_attempts_message(runtime: Runtime) -> None:
    seen_at_start: list[tuple[float, str | None]] = []

    async def flaky(context: JobContext) -> None:
        job = await _load(runtime, context.job_id)
        seen_at_start.append((job.progress, job.message))
        if context.attempt == 1:
            await context.report(0.4, "loaded 1 predictions and 1 ground truths")
            raise RuntimeError("lost the connection")

    job_id = await _enqueue(runtime)
    runner = JobRunner(runtime, {"test": flaky}, retry_base_seconds=0.0)
    assert await runner.run_next() == job_id
    assert (await _load(runtime, job_id)).message == "loaded 1 predictions and 1 ground truths"
    assert await runner.run_next() == job_id
    job = await _load(runtime, job_id)
    assert seen_at_start == [(0.0, None), (0.0, None)]
    assert (job.status, job.attempts, job.progress, job.message) == ("SUCCEEDED", 2, 1.0, None)


async def test_the_final_message_is_the_last_one_reported(runtime: Runtime) -> None:
    async def quick(context: JobContext) -> None:
        await context.report(0.1, "loading")
        await context.report(0.9, "done: 3 items")  # held back by the throttle

    job_id = await _enqueue(runtime)
    await JobRunner(runtime, {"test": quick}, progress_interval=10.0).run_next()
    job = await _load(runtime, job_id)
    assert (job.status, job.progress, job.message) == ("SUCCEEDED", 1.0, "done: 3 items")
