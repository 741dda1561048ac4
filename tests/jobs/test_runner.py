"""The runner end to end in one process, on both backends: outcomes, retries, cancellation,
progress throttling, lease loss, shutdown and wake-ups."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from sliceboard.jobs import runner as runner_module
from sliceboard.jobs.context import JobContext, JobFailed
from sliceboard.jobs.runner import JobRunner, describe_error, retry_delay
from sliceboard.runtime import Runtime
from sliceboard.services.jobs import cancel_job, enqueue_job
from sliceboard.storage import jobs as job_store
from sliceboard.storage.db import transaction
from sliceboard.storage.jobs import Attempt
from sliceboard.storage.tables import Job, utcnow
from tests.support.jobs import enqueue, load, poll, wait_for


def runner_for(runtime: Runtime, handler, **options) -> JobRunner:
    return JobRunner(runtime, {"test": handler}, **options)


async def test_a_handler_that_returns_succeeds(runtime: Runtime) -> None:
    seen: list[tuple[int, dict[str, object], int]] = []

    async def handler(context: JobContext) -> None:
        seen.append((context.job_id, context.payload, context.attempt))
        await context.report(0.5, "halfway")

    job_id = await enqueue(runtime, payload={"n": 1})
    runner = runner_for(runtime, handler)
    assert await runner.run_next() == job_id
    assert seen == [(job_id, {"n": 1}, 1)]
    job = await load(runtime, job_id)
    assert (job.status, job.progress, job.message, job.attempts, job.error) == (
        "SUCCEEDED",
        1.0,
        "halfway",
        1,
        None,
    )
    assert job.finished_at is not None and job.worker_id is None and job.lease_until is None
    assert await runner.run_next() is None


async def test_an_exception_is_retried_after_a_backoff(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0

    async def flaky(context: JobContext) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("boom")

    job_id = await enqueue(runtime)
    now = utcnow()
    monkeypatch.setattr(runner_module, "utcnow", lambda: now)  # the runner's clock stands still
    runner = runner_for(runtime, flaky, retry_base_seconds=0.3)
    await runner.run_next()
    job = await load(runtime, job_id)
    assert (job.status, job.attempts, job.error) == (
        "QUEUED",
        1,
        "ValueError: boom (attempt 1 of 3)",
    )
    assert await runner.run_next() is None  # backing off
    monkeypatch.setattr(runner_module, "utcnow", lambda: now + timedelta(seconds=0.29))
    assert await runner.run_next() is None  # still backing off
    monkeypatch.setattr(runner_module, "utcnow", lambda: now + timedelta(seconds=0.31))
    assert await runner.run_next() == job_id
    job = await load(runtime, job_id)
    assert (job.status, job.attempts, job.error) == ("SUCCEEDED", 2, None)


def test_backoff_doubles_up_to_a_cap() -> None:
    assert [retry_delay(n, base=1.0, cap=5.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    assert describe_error(KeyError("x")) == "KeyError: 'x'"
    assert describe_error(RuntimeError()) == "RuntimeError"
    assert len(describe_error(ValueError("x" * 10_000))) < 2100


async def test_the_last_failure_is_reported_without_a_traceback(runtime: Runtime) -> None:
    async def broken(context: JobContext) -> None:
        raise RuntimeError("disk on fire")

    job_id = await enqueue(runtime, max_attempts=2)
    runner = runner_for(runtime, broken, retry_base_seconds=0.0)
    await runner.run_next()
    await runner.run_next()
    job = await load(runtime, job_id)
    assert (job.status, job.attempts) == ("FAILED", 2)
    assert job.error == "RuntimeError: disk on fire (attempt 2 of 2)"
    assert await runner.run_next() is None


async def test_job_failed_is_permanent(runtime: Runtime) -> None:
    async def refuse(context: JobContext) -> None:
        raise JobFailed("model run 7 has no predictions")

    job_id = await enqueue(runtime)
    await runner_for(runtime, refuse).run_next()
    job = await load(runtime, job_id)
    assert (job.status, job.attempts, job.error) == ("FAILED", 1, "model run 7 has no predictions")


async def test_a_queued_job_is_cancelled_at_once(runtime: Runtime) -> None:
    ran = False

    async def handler(context: JobContext) -> None:
        nonlocal ran
        ran = True

    job_id = await enqueue(runtime)
    async with transaction(runtime.sessions) as session:
        job = await cancel_job(session, job_id=str(job_id))
    assert job.status == "CANCELLED"
    assert await runner_for(runtime, handler).run_next() is None
    assert not ran


async def test_a_running_job_is_cancelled_when_its_handler_checks(runtime: Runtime) -> None:
    checks = 0

    async def patient(context: JobContext) -> None:
        nonlocal checks
        while not await context.cancelled():
            checks += 1
            await asyncio.sleep(0.01)

    runner = runner_for(runtime, patient, progress_interval=0.05)
    await runner.start()
    try:
        job_id = await enqueue(runtime)
        await wait_for(runtime, job_id, {"RUNNING"})
        async with transaction(runtime.sessions) as session:
            await cancel_job(session, job_id=str(job_id))
        job = await wait_for(runtime, job_id, {"CANCELLED", "SUCCEEDED", "FAILED"}, timeout=5)
    finally:
        await runner.stop()
    assert job.status == "CANCELLED" and job.error is None and job.attempts == 1
    assert checks > 0


async def test_progress_writes_are_throttled_but_the_last_one_lands(runtime: Runtime) -> None:
    observed: list[tuple[Job, float]] = []
    job_id = await enqueue(runtime)

    async def chatty(context: JobContext) -> None:
        started = time.monotonic()
        for step in range(100):
            await context.report(step / 100, f"step {step}")
            await asyncio.sleep(0.004)
        elapsed = time.monotonic() - started
        # the held report is written once the interval has passed
        landed = await poll(runtime, job_id, lambda job: job.message == "step 99", "step 99")
        observed.append((landed, elapsed))

    await runner_for(runtime, chatty, progress_interval=0.1).run_next()
    assert (await load(runtime, job_id)).status == "SUCCEEDED"
    [(job, elapsed)] = observed
    assert (job.progress, job.message) == (0.99, "step 99")
    writes = job.revision - 1  # the claim bumped it once
    assert 3 <= writes <= elapsed / 0.1 + 2
    context = JobContext(
        runtime=runtime,
        attempt=Attempt(job_id, "nobody", 1),
        kind="test",
        payload={},
        max_attempts=1,
    )
    with pytest.raises(ValueError):
        await context.report(float("nan"))


async def test_a_worker_that_loses_its_lease_stops_and_writes_nothing(runtime: Runtime) -> None:
    runtime.settings = replace(runtime.settings, job_lease_seconds=0.3)
    stopped = asyncio.Event()

    async def endless(context: JobContext) -> None:
        try:
            await asyncio.sleep(30)
        finally:
            stopped.set()

    job_id = await enqueue(runtime)
    runner = runner_for(runtime, endless)
    task = asyncio.create_task(runner.run_next())
    await wait_for(runtime, job_id, {"RUNNING"})
    async with transaction(runtime.sessions) as session:  # another worker took it over
        job = await session.get(Job, job_id)
        assert job is not None
        job.worker_id, job.attempts = "other", 2
    await asyncio.wait_for(stopped.wait(), 2)
    await asyncio.wait_for(task, 2)
    job = await load(runtime, job_id)
    assert (job.status, job.worker_id, job.attempts) == ("RUNNING", "other", 2)


async def test_stop_waits_for_the_grace_period_then_requeues(runtime: Runtime) -> None:
    async def slow(context: JobContext) -> None:
        await asyncio.sleep(float(context.payload["seconds"]))

    runner = runner_for(runtime, slow, grace_seconds=1.0)
    await runner.start()
    quick = await enqueue(runtime, payload={"seconds": 0.3})
    await wait_for(runtime, quick, {"RUNNING"})
    await runner.stop()
    assert (await load(runtime, quick)).status == "SUCCEEDED"

    runner = runner_for(runtime, slow, grace_seconds=0.1)
    await runner.start()
    stuck = await enqueue(runtime, payload={"seconds": 60})
    await wait_for(runtime, stuck, {"RUNNING"})
    started = time.monotonic()
    await runner.stop()
    assert time.monotonic() - started < 2.0  # grace 0.1 s, not the handler's 60 s
    job = await load(runtime, stuck)
    assert (job.status, job.attempts, job.worker_id, job.lease_until) == ("QUEUED", 0, None, None)


async def test_the_runtimes_wake_jobs_wakes_the_runner(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While started, ``runtime.wake_jobs()`` ends the runner's 30 s poll wait at once; after
    stop, it is the callable it was before."""
    runtime.settings = replace(runtime.settings, job_poll_seconds=30.0)
    previous_calls: list[None] = []
    runtime.wake_jobs = lambda: previous_calls.append(None)
    looked = asyncio.Event()
    has_claimable = job_store.has_claimable

    async def watched(**kwargs: Any) -> bool:
        found = await has_claimable(**kwargs)
        if not found:
            looked.set()
        return found

    monkeypatch.setattr(job_store, "has_claimable", watched)
    done = asyncio.Event()

    async def handler(context: JobContext) -> None:
        done.set()

    runner = runner_for(runtime, handler)
    await runner.start()
    try:
        await asyncio.wait_for(looked.wait(), 5)  # the queue was empty: the loop waits 30 s
        async with transaction(runtime.sessions) as session:  # a job, and nobody told
            await enqueue_job(session, kind="test", payload={}, max_attempts=1)
        runtime.wake_jobs()
        await asyncio.wait_for(done.wait(), 5)
    finally:
        await runner.stop()
    assert previous_calls == []
    runtime.wake_jobs()
    assert previous_calls == [None]


async def test_concurrency_runs_several_jobs_at_once(runtime: Runtime) -> None:
    running = 0
    peak = 0
    two_at_once = asyncio.Event()

    async def handler(context: JobContext) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        if running == 2:
            two_at_once.set()
        try:
            await asyncio.wait_for(two_at_once.wait(), 10)  # one job alone would wait here
        finally:
            running -= 1

    runner = runner_for(runtime, handler, concurrency=2)
    await runner.start()
    try:
        ids = [await enqueue(runtime) for _ in range(4)]
        for job_id in ids:
            await wait_for(runtime, job_id, {"SUCCEEDED"})
    finally:
        await runner.stop()
    assert peak == 2
