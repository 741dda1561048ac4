"""Helpers for job tests: enqueue through the service, read rows back, wait (with a deadline)
for a status or any condition on the row."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from sliceboard.runtime import Runtime
from sliceboard.services.jobs import enqueue_job
from sliceboard.storage import jobs as job_store
from sliceboard.storage.db import read_session, transaction
from sliceboard.storage.tables import Job


async def enqueue(
    runtime: Runtime,
    kind: str = "test",
    payload: dict[str, Any] | None = None,
    *,
    max_attempts: int = 3,
) -> int:
    async with transaction(runtime.sessions) as session:
        job = await enqueue_job(
            session, kind=kind, payload=payload or {}, max_attempts=max_attempts
        )
        assert job.id is not None
        job_id = job.id
    runtime.wake_jobs()
    return job_id


async def load(runtime: Runtime, job_id: int) -> Job:
    async with read_session(runtime.sessions) as session:
        job = await job_store.select_job(session=session, job_id=job_id)
    assert job is not None
    return job


async def poll(
    runtime: Runtime,
    job_id: int,
    condition: Callable[[Job], bool],
    what: str = "the condition",
    timeout: float = 10.0,
) -> Job:
    """The job's row once ``condition`` holds, read every 20 ms until ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        job = await load(runtime, job_id)
        if condition(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} ({job.status}, {job.message!r}) never met {what}")
        await asyncio.sleep(0.02)


async def wait_for(runtime: Runtime, job_id: int, statuses: set[str], timeout: float = 10.0) -> Job:
    return await poll(runtime, job_id, lambda job: job.status in statuses, f"{statuses}", timeout)
