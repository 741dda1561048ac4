"""The in-process job runner: claim a job under a lease, run its handler, record the outcome.

One loop per process polls the ``job`` table every ``job_poll_seconds`` and wakes at once when
``runtime.wake_jobs()`` is called. While a handler runs, a heartbeat extends its lease; if the
process dies, the lease runs out and any runner takes the job again (delivery is at least
once). Outcomes:

    handler returns                 -> SUCCEEDED, progress 1
    handler raises JobFailed        -> FAILED at once, error = its message
    handler raises anything else    -> QUEUED again after a backoff, until max_attempts; then
                                       FAILED, error = "<ExceptionType>: <message> (attempt n of m)"
    cancellation requested          -> the handler is cancelled within job_cancel_poll_seconds
                                       (at once when cancelJob ran in this process), so work it
                                       awaits in a worker process is killed; CANCELLED
    lease lost to another worker    -> the handler is cancelled; nothing is written
    runner stops mid-job            -> after a grace period the handler is cancelled and the job
                                       is queued again without counting the attempt

A job ends with the last message its handler reported. The ``sliceboard.jobs`` logger records
each claim, progress message (see :mod:`sliceboard.jobs.context`), retry and outcome with its
duration; the records carry ``job_id``, ``kind`` and ``attempt`` for JSON logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.input_limits import InputLimits, use_input_limits
from sliceboard.jobs.context import JobContext, JobFailed
from sliceboard.jobs.handlers import Handler, default_handlers
from sliceboard.runtime import Runtime
from sliceboard.storage import jobs as job_store
from sliceboard.storage.jobs import Attempt
from sliceboard.storage.tables import Job, utcnow

logger = logging.getLogger("sliceboard.jobs")

WRITE_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)
MAX_ERROR_CHARS = 2000


def describe_error(exc: BaseException) -> str:
    """``Type: message`` - what a user sees in ``job.error`` (the traceback goes to the log)."""
    text = str(exc).strip()
    if len(text) > MAX_ERROR_CHARS:
        text = text[:MAX_ERROR_CHARS] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def job_fields(job: Job, attempt: int, **more: object) -> dict[str, object]:
    """The structured fields of a job's log records."""
    return {"job_id": job.id, "kind": job.kind, "attempt": attempt, **more}


def retry_delay(attempt: int, *, base: float, cap: float) -> float:
    """Exponential backoff after failed attempt number ``attempt`` (1-based)."""
    return float(min(base * 2 ** (attempt - 1), cap))


class JobRunner:
    def __init__(
        self,
        runtime: Runtime,
        handlers: Mapping[str, Handler] | None = None,
        *,
        concurrency: int = 1,
        grace_seconds: float = 5.0,
        retry_base_seconds: float = 1.0,
        retry_cap_seconds: float = 300.0,
        progress_interval: float = 0.2,
        worker_id: str | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.runtime = runtime
        self.handlers = dict(default_handlers() if handlers is None else handlers)
        self.concurrency = concurrency
        self.grace_seconds = grace_seconds
        self.retry_base_seconds = retry_base_seconds
        self.retry_cap_seconds = retry_cap_seconds
        self.progress_interval = progress_interval
        # The bounds a request would have (media root, mask limits, ...) for the services the
        # handlers call: read from the settings once, set in each handler's context.
        self.input_limits = InputLimits.of(runtime.settings)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._handlers_running: dict[int, asyncio.Task[None]] = {}
        self._previous_wake: Callable[[], None] | None = None

    def wake(self) -> None:
        """Look for work now rather than at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        if self._loop_task is not None:
            raise RuntimeError("JobRunner already started")
        self._stopping = False
        self._previous_wake = self.runtime.wake_jobs
        self.runtime.wake_jobs = self.wake
        self.runtime.runs_jobs = True
        self._loop_task = asyncio.create_task(self._loop(), name=f"job-runner {self.worker_id}")
        logger.info("job runner %s started (kinds: %s)", self.worker_id, sorted(self.handlers))

    async def stop(self) -> None:
        """Stop claiming; let running handlers finish within the grace period, then interrupt
        them and queue their jobs again. A job is never left without a way back to the queue:
        if even that write fails, its lease expires."""
        if self._loop_task is None:
            return
        self._stopping = True
        self._wake.set()
        await self._loop_task
        self._loop_task = None
        if self._previous_wake is not None:
            self.runtime.wake_jobs = self._previous_wake
        self.runtime.runs_jobs = False
        if self._running:
            _done, late = await asyncio.wait(set(self._running), timeout=self.grace_seconds)
            for work in list(self._handlers_running.values()):
                work.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        logger.info("job runner %s stopped", self.worker_id)

    async def run_next(self) -> int | None:
        """Claim one job and run it to its outcome; the id, or None when nothing was runnable.

        The loop does the same; this is for a caller that drives the queue itself.
        """
        job = await self._claim()
        if job is None:
            return None
        await self._run(job)
        return job.id

    async def _loop(self) -> None:
        poll = self.runtime.settings.job_poll_seconds
        while not self._stopping:
            self._wake.clear()
            job = None
            if len(self._running) < self.concurrency:
                try:
                    job = await self._claim()
                except Exception:
                    logger.exception("job runner %s: claiming failed", self.worker_id)
            if job is not None:
                task = asyncio.create_task(self._run(job), name=f"job {job.id}")
                self._running.add(task)
                task.add_done_callback(self._finished)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "job runner %s: job task crashed", self.worker_id, exc_info=task.exception()
            )
        self._wake.set()

    async def _claim(self) -> Job | None:
        if not self.handlers:
            return None
        now = utcnow()
        async with self.runtime.reading() as session:
            if not await job_store.has_claimable(session=session, kinds=self.handlers, now=now):
                return None
        async with self.runtime.unit_of_work() as session:
            settled = await job_store.settle_lost_jobs(session=session, now=now)
            job = await job_store.claim_job(
                session=session,
                worker_id=self.worker_id,
                kinds=self.handlers,
                now=now,
                lease_seconds=self.runtime.settings.job_lease_seconds,
            )
        for job_id in settled:
            self._notify(job_id)
        if job is not None:
            assert job.id is not None
            self._notify(job.id)
            logger.info(
                "job %s (%s) attempt %s of %s started by %s",
                job.id,
                job.kind,
                job.attempts,
                job.max_attempts,
                self.worker_id,
                extra=job_fields(job, job.attempts, worker=self.worker_id),
            )
        return job

    async def _run(self, job: Job) -> None:
        assert job.id is not None
        attempt = Attempt(job_id=job.id, worker_id=self.worker_id, attempt=job.attempts)
        context = JobContext(
            runtime=self.runtime,
            attempt=attempt,
            kind=job.kind,
            payload=dict(job.payload or {}),
            max_attempts=job.max_attempts,
            progress_interval=self.progress_interval,
        )
        started = time.monotonic()
        use_input_limits(self.input_limits)  # the handler's task copies this context
        work = asyncio.create_task(self.handlers[job.kind](context), name=f"job {job.id} handler")
        beat = asyncio.create_task(self._heartbeat(context, work), name=f"job {job.id} heartbeat")
        watch = asyncio.create_task(
            self._watch_cancel(context, work), name=f"job {job.id} cancel watch"
        )
        self._handlers_running[job.id] = work
        try:
            await asyncio.wait({work})
        finally:
            self._handlers_running.pop(job.id, None)
            for helper in (beat, watch):
                helper.cancel()
            await asyncio.gather(beat, watch, return_exceptions=True)
            await context.close()
        await self._settle(job, context, work, time.monotonic() - started)

    async def _settle(
        self, job: Job, context: JobContext, work: asyncio.Task[None], seconds: float
    ) -> None:
        attempt = context.fence
        fields = job_fields(job, attempt.attempt, duration_seconds=round(seconds, 3))
        if context.lost:
            self.runtime.metrics.job_finished(job.kind, "LOST", seconds)
            logger.warning(
                "job %s (%s) attempt %s: lease lost after %.2f s, outcome discarded",
                job.id,
                job.kind,
                attempt.attempt,
                seconds,
                extra=fields,
            )
            return
        with contextlib.suppress(Exception):
            await context.refresh()
        now = utcnow()
        if work.cancelled() and self._stopping and not context.cancel_requested:
            # Interrupted by shutdown: not the job's fault, so the attempt is given back.
            await self._record(
                attempt,
                lambda session: job_store.requeue_job(
                    session=session, attempt=attempt, run_after=now, error=None, refund_attempt=True
                ),
            )
            logger.info(
                "job %s (%s) attempt %s: interrupted by shutdown after %.2f s, queued again",
                job.id,
                job.kind,
                attempt.attempt,
                seconds,
                extra=fields,
            )
            return
        exc: BaseException | None = (
            asyncio.CancelledError("the handler was cancelled")
            if work.cancelled()
            else work.exception()
        )
        if context.cancel_requested and not context.committed:
            status, error, progress = job_store.CANCELLED, None, None
        elif exc is None:
            status, error, progress = job_store.SUCCEEDED, None, 1.0
        elif isinstance(exc, JobFailed):
            status, error, progress = job_store.FAILED, str(exc) or "JobFailed", None
        else:
            logger.error(
                "job %s (%s) attempt %s failed after %.2f s",
                job.id,
                job.kind,
                attempt.attempt,
                seconds,
                exc_info=exc,
                extra=fields,
            )
            message = f"{describe_error(exc)} (attempt {attempt.attempt} of {job.max_attempts})"
            if attempt.attempt < job.max_attempts:
                delay = retry_delay(
                    attempt.attempt, base=self.retry_base_seconds, cap=self.retry_cap_seconds
                )
                run_after = now + timedelta(seconds=delay)
                await self._record(
                    attempt,
                    lambda session: job_store.requeue_job(
                        session=session, attempt=attempt, run_after=run_after, error=message
                    ),
                )
                self.runtime.metrics.job_finished(job.kind, "RETRIED", seconds)
                logger.warning(
                    "job %s (%s) attempt %s: retry in %.1f s",
                    job.id,
                    job.kind,
                    attempt.attempt,
                    delay,
                    extra=fields,
                )
                return
            status, error, progress = job_store.FAILED, message, None
        await self._record(
            attempt,
            lambda session: job_store.finish_job(
                session=session,
                attempt=attempt,
                status=status,
                now=now,
                error=error,
                progress=progress,
                message=context.last_message,
            ),
        )
        self.runtime.metrics.job_finished(job.kind, status, seconds)
        logger.log(
            logging.WARNING if status == job_store.FAILED else logging.INFO,
            "job %s (%s) attempt %s %s in %.2f s%s",
            job.id,
            job.kind,
            attempt.attempt,
            status,
            seconds,
            f": {error}" if error else "",
            extra={**fields, "status": status},
        )

    async def _record(
        self, attempt: Attempt, write: Callable[[AsyncSession], Awaitable[bool]]
    ) -> None:
        """Write an outcome, retrying through brief database trouble; if it never lands the
        lease expires and the job runs again."""
        for delay in (*WRITE_RETRY_DELAYS, None):
            try:
                async with self.runtime.unit_of_work() as session:
                    owned = await write(session)
            except Exception:
                if delay is None:
                    logger.exception("job %s: could not record the outcome", attempt.job_id)
                    return
                await asyncio.sleep(delay)
                continue
            if not owned:
                logger.warning("job %s attempt %s: no longer ours", attempt.job_id, attempt.attempt)
            self._notify(attempt.job_id)
            return

    async def _heartbeat(self, context: JobContext, work: asyncio.Task[None]) -> None:
        lease = self.runtime.settings.job_lease_seconds
        attempt = context.fence
        while True:
            await asyncio.sleep(max(lease / 3, 0.05))
            if context.writes_held:
                continue
            try:
                async with self.runtime.unit_of_work() as session:
                    flag = await job_store.renew_lease(
                        session=session, attempt=attempt, now=utcnow(), lease_seconds=lease
                    )
            except Exception:
                logger.exception("job %s: heartbeat failed", attempt.job_id)
                continue
            context.observe(flag)
            if context.lost:
                work.cancel()
                return

    async def _watch_cancel(self, context: JobContext, work: asyncio.Task[None]) -> None:
        """Cancel the handler once its job is asked to cancel: re-read the flag when this
        process announces a change of the job (``cancelJob`` notifies) or every
        ``job_cancel_poll_seconds`` (a request served by another process)."""
        interval = self.runtime.settings.job_cancel_poll_seconds
        while not work.done():
            await self.runtime.notifier.wait(("job", context.job_id), interval)
            try:
                await context.refresh()
            except Exception:
                logger.exception("job %s: reading the cancellation flag failed", context.job_id)
                continue
            if context.cancel_requested and not context.committed:
                logger.info("job %s: cancellation requested, stopping it", context.job_id)
                work.cancel()
                return

    def _notify(self, job_id: int) -> None:
        self.runtime.notifier.notify(("job", job_id))
