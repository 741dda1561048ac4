"""Two apps in one process share no cache and no worker, and each app's shutdown stops its own
workers and leaves the other's running."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

from sliceboard.app import create_app
from sliceboard.compute.process_guard import pid_alive
from sliceboard.config import Settings
from sliceboard.runtime import Runtime


async def worker_pids(runtime: Runtime) -> set[int]:
    """The processes behind the runtime's report worker and process pool (started if need be)."""
    compute = runtime.compute
    return {
        await compute.report_worker.call(0, os.getpid),
        await compute.process_pool.run(os.getpid),
    }


async def report_thread_id(runtime: Runtime) -> int:
    return await asyncio.wrap_future(runtime.compute.report_thread.submit(0, threading.get_ident))


async def test_two_apps_share_nothing_and_each_closes_its_own(tmp_path: Path) -> None:
    apps = [
        create_app(
            Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / name}.db", run_jobs=False),
            migrate=False,
        )
        for name in ("first", "second")
    ]
    first, second = (app.state.runtime for app in apps)
    async with apps[0].router.lifespan_context(apps[0]):
        async with apps[1].router.lifespan_context(apps[1]):
            assert first.snapshot_cache is not second.snapshot_cache
            assert first.custom_metric_cache is not second.custom_metric_cache
            first_pids, second_pids = await worker_pids(first), await worker_pids(second)
            assert len(first_pids) == len(second_pids) == 2
            assert first_pids.isdisjoint(second_pids)
            assert os.getpid() not in first_pids | second_pids
            assert await report_thread_id(first) != await report_thread_id(second)
            assert first.snapshot_cache.compute is first.compute.report_thread
            assert second.snapshot_cache.compute is second.compute.report_thread

        # the second app shut down: its workers are gone, the first's still serve
        assert not any(pid_alive(pid) for pid in second_pids)
        assert not second.compute.report_thread.is_running()
        assert all(pid_alive(pid) for pid in first_pids)
        assert await worker_pids(first) == first_pids
        assert first.compute.report_thread.is_running()

    assert not any(pid_alive(pid) for pid in first_pids)
    assert not first.compute.report_thread.is_running()
