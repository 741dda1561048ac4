"""How responsive is the event loop while CPU-bound work runs off it? (A measurement, not a test.)

    python bench/loop_lag.py [--seconds 3] [--rounds 2]

For each way of running CPU work - none (baseline), ``asyncio.to_thread``, a
``sliceboard.compute.process_pool.CpuPool`` (what evaluations use) - and each workload (a pure-Python loop, vectorised numpy), it keeps
the work running back to back for a while and meanwhile measures, in the server's own loop:

  * sleep lag: how late ``asyncio.sleep(0.01)`` wakes up (p50 / p99 / max, ms);
  * db round trip: ``SELECT 1`` through aiosqlite (a thread hop per query, as in a resolver);
  * work done: CPU chunks completed, as a rate relative to the thread run of the same workload.

Rounds alternate the modes so machine noise hits all of them alike; compare within a run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
from sqlalchemy import text

from sliceboard.compute.process_pool import CpuPool
from sliceboard.storage.db import create_engine

CHUNK_SECONDS = 0.2


def python_work(seconds: float = CHUNK_SECONDS) -> int:
    """Pure-Python CPU work (holds the GIL throughout), about ``seconds`` long; returns the
    units of work done, so a mode that slows the work down shows it."""
    deadline = time.perf_counter() + seconds
    units = 0
    total = 0
    while time.perf_counter() < deadline:
        for i in range(2000):
            total += i * i % 7
        units += 1
    return units


def numpy_work(seconds: float = CHUNK_SECONDS) -> int:
    """IoU-matrix style numpy work (ufuncs on 1000 x 1000 arrays release the GIL)."""
    rng = np.random.default_rng(0)
    a = rng.random((1000, 4))
    b = rng.random((1000, 4))
    deadline = time.perf_counter() + seconds
    units = 0
    while time.perf_counter() < deadline:
        units += 1
        w = np.clip(
            np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]),
            0,
            None,
        )
        h = np.clip(
            np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]),
            0,
            None,
        )
        float((w * h).sum())
    return units


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(
    runner: Callable[[Callable[[], int]], Awaitable[int]] | None,
    work: Callable[[], int],
    seconds: float,
    db_url: str,
) -> dict[str, float]:
    engine = create_engine(db_url)
    stop = asyncio.Event()
    chunks = 0

    async def churn() -> None:
        nonlocal chunks
        while not stop.is_set():
            assert runner is not None
            chunks += await runner(work)

    lags: list[float] = []
    trips: list[float] = []

    async def sleeper() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append((time.perf_counter() - started - 0.01) * 1000)

    async def querier() -> None:
        async with engine.connect() as connection:
            while not stop.is_set():
                started = time.perf_counter()
                await connection.execute(text("SELECT 1"))
                trips.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.005)

    tasks = [asyncio.create_task(sleeper()), asyncio.create_task(querier())]
    if runner is not None:
        tasks.append(asyncio.create_task(churn()))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks)
    await engine.dispose()
    return {
        "lag_p50": statistics.median(lags),
        "lag_p99": percentile(lags, 0.99),
        "lag_max": max(lags),
        "db_p50": statistics.median(trips),
        "db_p99": percentile(trips, 0.99),
        "chunks": chunks,
    }


async def main(seconds: float, rounds: int) -> None:
    pool = CpuPool(max_workers=1)  # what evaluations use
    started = time.perf_counter()
    await pool.run(python_work, 0.0)  # start the worker process
    spawn_ms = (time.perf_counter() - started) * 1000

    async def in_thread(fn: Callable[[], int]) -> int:
        return await asyncio.to_thread(fn)

    async def in_process(fn: Callable[[], int]) -> int:
        return await pool.run(fn)

    array = np.random.default_rng(0).random(50_000_000 // 8)  # 50 MB each way
    started = time.perf_counter()
    await asyncio.to_thread(np.negative, array)
    transfer = {"thread": (time.perf_counter() - started) * 1000}
    started = time.perf_counter()
    await pool.run(np.negative, array)
    transfer["process"] = (time.perf_counter() - started) * 1000
    del array

    modes: list[tuple[str, Callable[[Callable[[], int]], Awaitable[int]] | None]] = [
        ("thread", in_thread),
        ("process", in_process),
    ]
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite+aiosqlite:///{Path(tmp) / 'lag.db'}"
        for _ in range(rounds):
            results.setdefault(("idle", "-"), []).append(
                await measure(None, python_work, seconds, db_url)
            )
            for work_name, work in (("python", python_work), ("numpy", numpy_work)):
                for mode, runner in modes:
                    results.setdefault((mode, work_name), []).append(
                        await measure(runner, work, seconds, db_url)
                    )
    await pool.close()

    print(
        f"process pool start-up (spawn, first call): {spawn_ms:.0f} ms; {seconds:.0f} s x {rounds} rounds each"
    )
    print(
        f"50 MB array to the worker and back (np.negative): thread {transfer['thread']:.0f} ms, process {transfer['process']:.0f} ms"
    )
    print(
        f"{'mode':<8} {'work':<7} {'lag p50':>8} {'lag p99':>8} {'lag max':>8} {'db p50':>7} {'db p99':>7} {'work/s':>9}"
    )
    for (mode, work_name), runs in results.items():
        row = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        print(
            f"{mode:<8} {work_name:<7} {row['lag_p50']:8.2f} {row['lag_p99']:8.2f} {row['lag_max']:8.2f}"
            f" {row['db_p50']:7.2f} {row['db_p99']:7.2f} {row['chunks'] / seconds:9.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.rounds))
