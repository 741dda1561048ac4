"""What a job handler is given: its job, progress reporting and the cancellation check.

Progress writes are throttled (at most one per ``progress_interval``) but never dropped for
good: a report that arrives too soon is held and written when the interval has passed, so the
last message a handler reports is the one subscribers end up seeing (the runner writes it with
the job's final status when the handler ends first). Each write is logged: at INFO when the
message changes, at DEBUG otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

from sliceboard.runtime import Runtime
from sliceboard.storage import jobs as job_store
from sliceboard.storage.jobs import Attempt
from sliceboard.storage.tables import utcnow

logger = logging.getLogger("sliceboard.jobs")


class JobFailed(Exception):
    """Raise from a handler for a failure a retry cannot fix; the job is FAILED at once and
    ``job.error`` is this exception's message."""


class JobContext:
    """One attempt at one job, as its handler sees it."""

    def __init__(
        self,
        *,
        runtime: Runtime,
        attempt: Attempt,
        kind: str,
        payload: dict[str, Any],
        max_attempts: int,
        progress_interval: float = 0.2,
    ) -> None:
        self.runtime = runtime
        self.job_id = attempt.job_id
        self.kind = kind
        self.payload = payload
        self.attempt = attempt.attempt
        self.max_attempts = max_attempts
        self._fence = attempt
        self._interval = progress_interval
        self._last_write = -math.inf
        self._last_check = -math.inf
        self._pending: tuple[float, str | None, tuple[int, int | None] | None] | None = None
        self._last_message: str | None = None
        self._logged_message: str | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._write_lock = asyncio.Lock()
        self._cancel_requested = False
        self._lost = False
        #: While True, progress is kept (not written) and the heartbeat pauses: the handler
        #: holds SQLite's one write lock in a long transaction and extended its lease first.
        self.writes_held = False
        #: Set by a handler as its last write commits: the work is done, so a cancellation
        #: requested from then on no longer applies (the job ends SUCCEEDED, not CANCELLED
        #: with its rows written).
        self.committed = False

    @property
    def fence(self) -> Attempt:
        """The (job, worker, attempt) triple every write of this attempt is conditioned on."""
        return self._fence

    @property
    def cancel_requested(self) -> bool:
        """The cancellation flag as last read (see :meth:`cancelled` for a fresh answer)."""
        return self._cancel_requested

    @property
    def last_message(self) -> str | None:
        """The message of the latest :meth:`report`, written or still held back."""
        return self._last_message

    @property
    def lost(self) -> bool:
        """True once another worker owns this job (our lease expired) or it was deleted."""
        return self._lost

    async def report_rows(self, done: int, total: int | None, message: str | None = None) -> None:
        """Record rows done of rows total (None: not known yet), as :meth:`report` does."""
        progress = done / total if total else 0.0
        await self.report(progress, message, rows=(done, total))

    async def report(
        self,
        progress: float,
        message: str | None = None,
        *,
        rows: tuple[int, int | None] | None = None,
    ) -> None:
        """Record progress in 0..1 (clamped) with an optional message, in its own transaction.

        Best effort: a failed write is logged, not raised - progress is not worth failing a job.
        """
        if not math.isfinite(progress):
            raise ValueError(f"progress must be a finite number, got {progress!r}")
        self._pending = (min(max(progress, 0.0), 1.0), message, rows)
        self._last_message = message
        if self.writes_held:
            return
        if self._flusher is not None:
            return
        delay = self._last_write + self._interval - time.monotonic()
        if delay <= 0:
            try:
                await self._write_pending()
            except Exception:
                logger.exception("job %s: progress write failed", self.job_id)
        else:
            self._flusher = asyncio.create_task(self._flush_after(delay))

    async def hold_writes(self, lease_seconds: float) -> None:
        """Before a long write transaction on SQLite: hold the job ``lease_seconds``, stop the
        pending progress write, and keep later reports in memory until :meth:`release_writes`."""
        await self.extend_lease(lease_seconds)
        await self.close()
        self.writes_held = True

    async def release_writes(self) -> None:
        self.writes_held = False
        if self._pending is not None:
            progress, message, rows = self._pending
            await self.report(progress, message, rows=rows)

    async def extend_lease(self, seconds: float) -> None:
        """Hold the job for ``seconds`` from now (before a phase with no heartbeat)."""
        async with self.runtime.unit_of_work() as session:
            flag = await job_store.renew_lease(
                session=session, attempt=self._fence, now=utcnow(), lease_seconds=seconds
            )
        self.observe(flag)

    async def record_outcome(
        self,
        *,
        result: dict[str, Any] | None,
        issues: list[str] | None,
        download_token: str | None = None,
        rows: tuple[int, int | None] | None = None,
    ) -> None:
        """Write a file job's outcome (its counts or download, or its issues) before it ends."""
        async with self.runtime.unit_of_work() as session:
            owned = await job_store.record_outcome(
                session=session,
                attempt=self._fence,
                result=result,
                issues=issues,
                download_token=download_token,
                rows=rows,
            )
        if not owned:
            self.observe(None)
        self.runtime.notifier.notify(("job", self.job_id))

    async def cancelled(self) -> bool:
        """Whether the job should stop: cancellation requested, or the job is no longer ours.

        Reads the database at most once per progress interval; cheap to call in a loop.
        """
        if self._cancel_requested or self._lost:
            return True
        if time.monotonic() - self._last_check >= self._interval:
            await self.refresh()
        return self._cancel_requested or self._lost

    async def refresh(self) -> None:
        """Re-read the cancellation flag now."""
        async with self.runtime.reading() as session:
            flag = await job_store.select_cancel_requested(session=session, attempt=self._fence)
        self._last_check = time.monotonic()
        self.observe(flag)

    def observe(self, cancel_requested: bool | None) -> None:
        """Take in the answer of a fenced write or read (None: no longer ours)."""
        if cancel_requested is None:
            self._lost = True
        elif cancel_requested:
            self._cancel_requested = True

    async def close(self) -> None:
        """Stop the pending progress write; the job's final state supersedes it."""
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
            self._flusher = None

    async def _flush_after(self, delay: float) -> None:
        try:
            while self._pending is not None:
                await asyncio.sleep(max(delay, 0.0))
                await self._write_pending()
                delay = self._last_write + self._interval - time.monotonic()
        except Exception:
            logger.exception("job %s: progress write failed", self.job_id)
        finally:
            self._flusher = None

    async def _write_pending(self) -> None:
        async with self._write_lock:
            pending, self._pending = self._pending, None
            if pending is None or self._lost:
                return
            progress, message, rows = pending
            self._last_write = time.monotonic()
            async with self.runtime.unit_of_work() as session:
                flag = await job_store.update_progress(
                    session=session,
                    attempt=self._fence,
                    progress=progress,
                    message=message,
                    rows=rows,
                )
            self.observe(flag)
        self._log_progress(progress, message)
        self.runtime.notifier.notify(("job", self.job_id))

    def _log_progress(self, progress: float, message: str | None) -> None:
        level = logging.INFO if message != self._logged_message else logging.DEBUG
        self._logged_message = message
        logger.log(
            level,
            "job %s (%s) progress %.0f%%%s",
            self.job_id,
            self.kind,
            progress * 100,
            f": {message}" if message else "",
            extra={"job_id": self.job_id, "kind": self.kind, "progress": progress},
        )
