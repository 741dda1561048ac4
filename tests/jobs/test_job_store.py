"""The queue's SQL on both backends: FIFO claims, leases, fencing, settling lost jobs."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sliceboard.runtime import Runtime
from sliceboard.storage import jobs as job_store
from sliceboard.storage.db import transaction
from sliceboard.storage.jobs import Attempt
from sliceboard.storage.tables import Job, utcnow
from tests.support.jobs import enqueue, load

LEASE = 10.0


async def claim(runtime: Runtime, worker: str, now=None, kinds=("test",)) -> Job | None:
    async with transaction(runtime.sessions) as session:
        return await job_store.claim_job(
            session=session, worker_id=worker, kinds=kinds, now=now or utcnow(), lease_seconds=LEASE
        )


async def test_claims_are_fifo_and_set_the_lease(runtime: Runtime) -> None:
    ids = [await enqueue(runtime) for _ in range(3)]
    now = utcnow()
    claimed = [await claim(runtime, "w1", now) for _ in range(3)]
    assert [job.id for job in claimed if job] == ids
    first = await load(runtime, ids[0])
    assert first.status == "RUNNING"
    assert first.worker_id == "w1"
    assert first.attempts == 1
    assert first.revision == 1
    assert first.lease_until is not None and first.started_at is not None
    assert (
        abs(
            (first.lease_until.replace(tzinfo=None) - now.replace(tzinfo=None)).total_seconds()
            - LEASE
        )
        < 1e-3
    )
    assert await claim(runtime, "w1", now) is None


async def test_claims_skip_other_kinds_and_future_jobs(runtime: Runtime) -> None:
    other = await enqueue(runtime, kind="other")
    later = await enqueue(runtime)
    async with transaction(runtime.sessions) as session:
        job = await job_store.select_job(session=session, job_id=later)
        assert job is not None
        job.run_after = utcnow() + timedelta(seconds=60)
    assert await claim(runtime, "w") is None
    async with runtime.sessions() as session:
        assert not await job_store.has_claimable(session=session, kinds=["test"], now=utcnow())
        assert await job_store.has_claimable(session=session, kinds=["other"], now=utcnow())
    claimed = await claim(runtime, "w", kinds=("other",))
    assert claimed is not None and claimed.id == other and claimed.kind == "other"
    job = await claim(runtime, "w", now=utcnow() + timedelta(seconds=61))
    assert job is not None and job.id == later and other != later


async def test_an_expired_lease_is_reclaimed_and_the_old_worker_is_fenced_out(
    runtime: Runtime,
) -> None:
    job_id = await enqueue(runtime)
    t0 = utcnow()
    first = await claim(runtime, "dead", t0)
    assert first is not None and (first.id, first.worker_id) == (job_id, "dead")
    assert await claim(runtime, "new", t0 + timedelta(seconds=LEASE / 2)) is None
    taken = await claim(runtime, "new", t0 + timedelta(seconds=LEASE + 1))
    assert taken is not None and taken.id == job_id
    assert (taken.attempts, taken.worker_id) == (2, "new")
    stale = Attempt(job_id=job_id, worker_id="dead", attempt=1)
    async with transaction(runtime.sessions) as session:
        assert not await job_store.finish_job(
            session=session, attempt=stale, status="SUCCEEDED", now=utcnow()
        )
        assert (
            await job_store.renew_lease(
                session=session, attempt=stale, now=utcnow(), lease_seconds=LEASE
            )
            is None
        )
        current = Attempt(job_id=job_id, worker_id="new", attempt=2)
        assert (
            await job_store.renew_lease(
                session=session, attempt=current, now=utcnow(), lease_seconds=LEASE
            )
            is False
        )
        assert await job_store.finish_job(
            session=session, attempt=current, status="SUCCEEDED", now=utcnow()
        )
    assert (await load(runtime, job_id)).status == "SUCCEEDED"


async def test_lost_jobs_without_attempts_left_fail_and_cancelled_ones_end(
    runtime: Runtime,
) -> None:
    exhausted = await enqueue(runtime, max_attempts=1)
    cancelled = await enqueue(runtime)
    t0 = utcnow()
    await claim(runtime, "dead", t0)
    await claim(runtime, "dead", t0)
    async with transaction(runtime.sessions) as session:
        await job_store.request_cancel(session=session, job_id=cancelled, now=t0)
    later = t0 + timedelta(seconds=LEASE + 1)
    assert await claim(runtime, "new", later) is None  # neither may run again
    async with transaction(runtime.sessions) as session:
        settled = await job_store.settle_lost_jobs(session=session, now=later)
    assert sorted(settled) == [exhausted, cancelled]
    failed = await load(runtime, exhausted)
    assert failed.status == "FAILED"
    assert failed.error == "worker lost: lease expired during attempt 1 of 1"
    assert failed.finished_at is not None
    assert (await load(runtime, cancelled)).status == "CANCELLED"


async def test_cancel_request_ends_queued_jobs_and_flags_running_ones(runtime: Runtime) -> None:
    queued = await enqueue(runtime)
    running = await enqueue(runtime)
    async with transaction(runtime.sessions) as session:
        job = await job_store.request_cancel(session=session, job_id=queued, now=utcnow())
        assert job is not None and job.status == "CANCELLED" and job.finished_at is not None
    await claim(runtime, "w")
    async with transaction(runtime.sessions) as session:
        job = await job_store.request_cancel(session=session, job_id=running, now=utcnow())
        assert job is not None and job.status == "RUNNING" and job.cancel_requested
        assert await job_store.request_cancel(session=session, job_id=10**9, now=utcnow()) is None
    revision = (await load(runtime, running)).revision
    async with transaction(runtime.sessions) as session:  # asking twice changes nothing
        await job_store.request_cancel(session=session, job_id=running, now=utcnow())
    assert (await load(runtime, running)).revision == revision


async def test_concurrent_claimers_never_take_the_same_job(runtime: Runtime) -> None:
    ids = [await enqueue(runtime) for _ in range(24)]

    async def claimer(name: str) -> list[int]:
        taken = []
        while (job := await claim(runtime, name)) is not None:
            assert job.id is not None
            taken.append(job.id)
        return taken

    results = await asyncio.gather(*(claimer(f"w{i}") for i in range(6)))
    claimed = [job_id for taken in results for job_id in taken]
    assert sorted(claimed) == ids
    assert len(set(claimed)) == len(claimed)
    for taken in results:
        assert taken == sorted(taken)
