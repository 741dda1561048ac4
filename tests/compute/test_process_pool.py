"""CpuPool: results and exceptions come back from the worker process; cancelling stops it."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import psutil
import pytest

from sliceboard.compute.machinery import Compute
from sliceboard.compute.process_pool import CpuPool
from tests.support import cpu_tasks


async def test_results_and_errors_come_back_from_another_process() -> None:
    pool = CpuPool(max_workers=1)
    try:
        assert await pool.run(cpu_tasks.square_sum, 1000) == sum(i * i for i in range(1000))
        pid = await pool.run(cpu_tasks.worker_pid)
        assert pid != os.getpid()
        assert await pool.run(cpu_tasks.worker_pid) == pid  # the worker is reused
        with pytest.raises(ValueError, match="bad slice"):
            await pool.run(cpu_tasks.fail, "bad slice")
    finally:
        await pool.close()
    assert await pool.run(cpu_tasks.worker_pid) != pid  # closed pools start again
    await pool.close()


def alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


async def until_running(marker: Path, timeout: float = 30.0) -> None:
    """Returns once a worker has written ``marker`` (the work is running there)."""
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert time.monotonic() < deadline, f"the work never started ({marker.name})"
        await asyncio.sleep(0.01)


async def test_cancelling_kills_the_running_work(tmp_path: Path) -> None:
    pool = CpuPool(max_workers=1)
    try:
        pid = await pool.run(cpu_tasks.worker_pid)  # started, so the timing below is the work's
        marker = tmp_path / "spinning"
        task = asyncio.create_task(pool.run(cpu_tasks.spin, 60.0, str(marker)))
        await until_running(marker)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        deadline = time.monotonic() + 5
        while alive(pid):
            assert time.monotonic() < deadline, "the worker was not killed"
            await asyncio.sleep(0.05)
        started = time.monotonic()
        assert await pool.run(cpu_tasks.square_sum, 10) == 285
        assert time.monotonic() - started < 20  # not stuck behind the 60 s spin
    finally:
        await pool.close()


async def test_the_pool_of_the_compute_machinery() -> None:
    compute = Compute()
    try:
        assert await compute.process_pool.run(cpu_tasks.square_sum, 3) == 5
    finally:
        await compute.close()


async def test_close_kills_work_nobody_awaits_any_more(tmp_path: Path) -> None:
    pool = CpuPool(max_workers=2)
    abandoned = asyncio.create_task(pool.run(cpu_tasks.spin, 60.0, str(tmp_path / "abandoned")))
    release = tmp_path / "release"
    awaited = asyncio.create_task(
        pool.run(cpu_tasks.spin, 60.0, str(tmp_path / "awaited"), str(release))
    )
    await until_running(tmp_path / "abandoned")
    await until_running(tmp_path / "awaited")
    abandoned.cancel()  # another call is running, so this one is left to run on
    await asyncio.gather(abandoned, return_exceptions=True)
    release.touch()
    pid = await asyncio.wait_for(awaited, 30)
    assert alive(pid)
    started = time.monotonic()
    await pool.close()
    assert time.monotonic() - started < 5
