"""CpuPool: results and exceptions come back from the worker process; cancelling stops it."""

from __future__ import annotations

import asyncio
import os
import time

import psutil
import pytest

from sliceboard.compute.machinery import Compute
from sliceboard.compute.process_pool import CpuPool
from tests.compute import cpu_tasks


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


async def test_cancelling_kills_the_running_work() -> None:
    pool = CpuPool(max_workers=1)
    try:
        pid = await pool.run(cpu_tasks.worker_pid)  # started, so the timing below is the work's
        task = asyncio.create_task(pool.run(cpu_tasks.spin, 60.0))
        await asyncio.sleep(0.3)
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


async def test_close_kills_work_nobody_awaits_any_more() -> None:
    pool = CpuPool(max_workers=2)
    abandoned = asyncio.create_task(pool.run(cpu_tasks.spin, 60.0))
    awaited = asyncio.create_task(pool.run(cpu_tasks.spin, 1.5))
    await asyncio.sleep(0.5)
    abandoned.cancel()  # another call is running, so this one is left to run on
    await asyncio.gather(abandoned, return_exceptions=True)
    pid = await awaited
    assert alive(pid)
    started = time.monotonic()
    await pool.close()
    assert time.monotonic() - started < 5
