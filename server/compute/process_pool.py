"""Run CPU-bound work in a worker process, so the server's event loop stays responsive.

Why a process and not ``asyncio.to_thread``: measured with ``python bench/loop_lag.py``
(3 runs, 2 cores shared with other work, load 4-9), a pure-Python loop in a thread holds the
GIL and the event loop waits for it at every hand-off: ``asyncio.sleep(0.01)`` overshoot
p50 6-14 ms / p99 29-42 ms and a ``SELECT 1`` round trip p99 42-64 ms, against p50 0.7-1.6 ms /
p99 8-23 ms / 7-19 ms with the same work in a process (idle: p99 6-10 ms / 3-6 ms); the thread
also does ~10-20 % less of the work. Vectorised numpy releases the GIL and is about equal
either way. The price of a process: start-up on first use (0.5-1.4 s, spawn) and pickling
arguments and results (a 50 MB array there and back: 0.4-1.2 s vs 0.01-0.5 s in a thread). For
evaluation - seconds of mixed numpy/Python work - predictable latency is worth that.

``fn`` and its arguments must be picklable: a module-level function and plain data/arrays.
Cancelling the awaiting task stops the computation (its worker is killed) when it is the only
one running in the pool; otherwise it runs to completion and the result is dropped. A worker
that dies (the out-of-memory killer, a crash in native code) fails the calls running on it with
:class:`WorkerDied`, which says how it died; the server process lives on and the next call
starts a fresh pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from sliceboard.compute.process_guard import exit_with_parent

T = TypeVar("T")


class WorkerDied(BrokenProcessPool):
    """The worker process running a call died before answering."""


def _exit_description(exitcode: int | None) -> str:
    if exitcode is None or exitcode >= 0:
        return "exited" if exitcode is None else f"exited with status {exitcode}"
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = f"signal {-exitcode}"
    hint = " (the out-of-memory killer sends it)" if name == "SIGKILL" else ""
    return f"was killed by {name}{hint}"


def _death_of(workers: list[multiprocessing.process.BaseProcess]) -> str:
    """How the pool's workers ended: the first that did not end by the pool's own SIGTERM."""
    codes = []
    for process in workers:
        with contextlib.suppress(Exception):
            process.join(timeout=1.0)
        codes.append(process.exitcode)
    chosen = next((c for c in codes if c not in (None, 0, -signal.SIGTERM)), None)
    if chosen is None:
        chosen = next((c for c in codes if c is not None), None)
    return f"the worker process {_exit_description(chosen)} while computing"


class CpuPool:
    """A lazily started process pool that can be closed and used again."""

    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = max_workers or max(1, min(4, os.cpu_count() or 1))
        self._pool: ProcessPoolExecutor | None = None
        self._in_flight = 0  # calls someone still awaits
        self._futures: set[Future[Any]] = set()  # calls still running, awaited or not

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        pool = self._ensure()
        future: Future[T] = pool.submit(fn, *args)
        workers = self._workers(pool)
        self._futures.add(future)
        future.add_done_callback(self._futures.discard)
        self._in_flight += 1
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if not future.done() and self._in_flight == 1:
                self._kill(pool)
            raise
        except BrokenProcessPool as exc:
            self._discard(pool)
            workers += [p for p in self._workers(pool) if p not in workers]
            message = await asyncio.to_thread(_death_of, workers)
            raise WorkerDied(message) from exc
        finally:
            self._in_flight -= 1

    def alive(self) -> int:
        """Worker processes running now (0 before the first ``run``)."""
        pool = self._pool
        return 0 if pool is None else sum(p.is_alive() for p in self._workers(pool))

    async def close(self) -> None:
        """Stop the workers; the next ``run`` starts anew. Idle workers exit cleanly; work
        still running (abandoned by cancelled callers) is killed."""
        pool = self._pool
        if pool is None:
            return
        if any(not future.done() for future in list(self._futures)):
            self._kill(pool)
        else:
            self._pool = None
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    def _ensure(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn: forking a process that runs an event loop and driver threads is unsafe.
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                max_workers=self.max_workers,
                mp_context=context,
                initializer=exit_with_parent,
                initargs=(os.getpid(),),
            )
        return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    def _workers(pool: ProcessPoolExecutor) -> list[multiprocessing.process.BaseProcess]:
        return list((getattr(pool, "_processes", None) or {}).values())

    def _kill(self, pool: ProcessPoolExecutor) -> None:
        # ProcessPoolExecutor cannot stop one running call (kill_workers() arrives in 3.14),
        # so the pool is dropped and its workers killed; the next call starts a fresh pool.
        for process in self._workers(pool):
            with contextlib.suppress(Exception):
                process.kill()
        self._discard(pool)
