"""The worker processes and threads one Runtime computes on, built together and closed together.

Owned by the Runtime (not module globals), so two apps in one process - or two tests - never
share a worker, and each app's shutdown stops exactly its own. Everything starts lazily, on
first use: a runtime that never evaluates or reports never starts a process.
"""

from __future__ import annotations

import asyncio

from sliceboard.compute.process_pool import CpuPool
from sliceboard.compute.ranked_thread import RankedThread
from sliceboard.compute.report_process import ReportWorker


class Compute:
    """``process_pool`` runs evaluations; slice-report parts run in ``report_worker``, or on
    ``report_thread`` when the worker does not hold their snapshot."""

    def __init__(self, *, pool_workers: int | None = None) -> None:
        self.process_pool = CpuPool(pool_workers)
        self.report_worker = ReportWorker()
        self.report_thread = RankedThread("slice-metrics")

    def workers_alive(self) -> dict[str, int]:
        """Live worker processes by role, for /metrics."""
        return {
            "evaluation": self.process_pool.alive(),
            "reports": int(self.report_worker.alive()),
        }

    async def close(self) -> None:
        """Stops every worker (uvicorn's exit skips atexit handlers); each starts again on its
        next use. Call it on the event loop that used them."""
        self.report_worker.close()
        await asyncio.to_thread(self.report_thread.close)
        await self.process_pool.close()
