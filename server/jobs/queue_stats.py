"""The job queue as /metrics shows it, read when Prometheus scrapes (not per request)."""

from __future__ import annotations

from sliceboard.runtime import Runtime
from sliceboard.services import jobs as job_service


async def sample_queue(runtime: Runtime) -> None:
    """Sets the queue gauges of ``runtime.metrics`` from the database (every process's jobs)."""
    async with runtime.reading() as session:
        open_jobs, busy = await job_service.queue_depth(session)
    for status, count in open_jobs.items():
        runtime.metrics.queue.labels(status).set(count)
    runtime.metrics.job_workers_busy.set(busy)
