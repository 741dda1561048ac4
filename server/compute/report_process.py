"""Slice reports computed in a worker process, beside the server's event loop.

Why a process: a report is ~150 numpy calls that each release and retake the GIL, and a thread
retakes it only when the event loop's thread lets go. Measured on the 5k case (a 10% slice's
COCO summary, 7 ms alone), beside a busy Python thread it took 767 ms at CPython's default
switch interval (166 ms at 1 ms): under a burst of requests a thread starved exactly when
reports were wanted. The worker maps the snapshot's file (shared_arrays.py), so its arrays
cost no second copy, and builds the indexes only metric computations use (``metric_state``:
15 MB at 380k predictions) itself.

Why a socket read by the event loop, not a ``ProcessPoolExecutor``: the executor's management
thread (and a thread to wait on it) must each retake the GIL to hand a request over and a
result back, and waited up to the 5 ms switch interval each time the event loop was busy. Here
the event loop writes a request and is woken by the answer; nothing else runs in the server.
The messages are framed so that a large answer arriving in pieces is read whole (frames.py).

Requests wait in a heap by rank (a report's place in the line), one at a time in the worker, so
every part of the first report asked for is done before any part of the next. If the worker
dies or cannot start, pending calls fail with ``WorkerUnavailable`` and the next call starts a
new one; callers then compute in-process.

Each Runtime owns its ``ReportWorker`` (compute/machinery.py). The functions the worker runs
are the caller's (module-level, so they pickle by name); :func:`mapped` and :func:`forget` keep
the snapshots a worker maps.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import multiprocessing
import os
import socket
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar, cast

import numpy as np

from sliceboard.compute.frames import LoopEnd, encode, read_message
from sliceboard.compute.lru import Lru
from sliceboard.compute.process_guard import exit_with_parent
from sliceboard.compute.shared_arrays import SharedSnapshot, attach

T = TypeVar("T")

#: Snapshots a worker keeps mapped (the server's cache keeps 4).
_CAPACITY = 8
#: The worker's mapped snapshots, by file. Module-level on purpose: only a worker process (one
#: per ReportWorker, so one per Runtime) fills it; the server never calls :func:`mapped`.
_MAPPED: Lru[str, Any] = Lru(_CAPACITY)


class SnapshotGone(Exception):
    """The worker no longer maps a snapshot and its file is gone."""


class WorkerUnavailable(Exception):
    """The worker process could not start or died."""


def mapped(shared: SharedSnapshot, build: Callable[[dict[str, np.ndarray]], T]) -> T:
    """``build(arrays)`` of a shared snapshot, mapped once and kept (in the worker)."""
    found = _MAPPED.get(shared.path)
    if found is None:
        try:
            arrays = attach(shared)
        except OSError as exc:
            raise SnapshotGone(shared.path) from exc
        found = build(arrays)
        _MAPPED.put(shared.path, found)
    return cast(T, found)


def forget(shared: SharedSnapshot) -> None:
    """Unmaps a snapshot the server no longer holds (in the worker)."""
    _MAPPED.pop(shared.path)


def _serve(sock: socket.socket, parent: int) -> None:
    """The worker's loop: (id, function, args) in, (id, ok, value) out."""
    exit_with_parent(parent)
    with sock, sock.makefile("rb") as incoming:
        while True:
            try:
                request_id, fn, args = read_message(incoming)
            except (EOFError, OSError):
                return
            try:
                answer = (request_id, True, fn(*args))
            except Exception as exc:
                answer = (request_id, False, exc)
            try:
                frame = encode(answer)
            except Exception as exc:  # an unpicklable result or exception
                frame = encode((request_id, False, RuntimeError(f"{type(exc).__name__}: {exc}")))
            try:
                sock.sendall(frame)
            except OSError:
                return


class ReportWorker:
    """One lazily started worker process, driven from the running event loop.

    ``restarts`` counts the workers found dead or unreachable (each is replaced on the next
    call): under any load it should stay 0.
    """

    def __init__(self) -> None:
        self._process: BaseProcess | None = None
        self._end: LoopEnd | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # (rank, request id, function, args): ids are unique, so ties never compare functions
        self._waiting: list[tuple[int, int, Any, tuple[Any, ...]]] = []
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._in_flight: int | None = None
        self._ids = itertools.count()
        self.restarts = 0

    async def call(self, rank: int, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` in the worker, after every waiting call of a lower rank."""
        loop = asyncio.get_running_loop()
        self._ensure(loop)
        request_id = next(self._ids)
        future: asyncio.Future[Any] = loop.create_future()
        self._pending[request_id] = future
        heapq.heappush(self._waiting, (rank, request_id, fn, args))
        self._pump()
        return await future

    def start(self) -> None:
        """Starts the worker process now, if it is not running (call it on the event loop)."""
        self._ensure(asyncio.get_running_loop())

    def _ensure(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._process is not None and not self._process.is_alive():
            self._broken("the report worker exited")
        if self._process is None:
            context = multiprocessing.get_context("spawn")  # the server has threads: no fork
            ours, theirs = socket.socketpair()
            process = context.Process(
                target=_serve, args=(theirs, os.getpid()), name="sliceboard-reports", daemon=True
            )
            try:
                process.start()
            except Exception as exc:
                ours.close()
                raise WorkerUnavailable(str(exc)) from exc
            finally:
                theirs.close()
            self._process = process
            self._end = LoopEnd(ours, self._on_answer, self._broken)
        if self._loop is not loop:  # a new event loop (tests run one per test)
            self._unbind()
            assert self._end is not None
            self._end.bind(loop)
            self._loop = loop

    def _unbind(self) -> None:
        if self._end is not None:
            self._end.unbind()
        self._loop = None
        self._fail_pending("the event loop changed")

    def _fail_pending(self, reason: str) -> None:
        pending = list(self._pending.values())
        self._pending.clear()
        self._waiting.clear()
        for future in pending:
            if not future.done() and not future.get_loop().is_closed():
                future.set_exception(WorkerUnavailable(reason))

    def _pump(self) -> None:
        while self._in_flight is None and self._waiting:
            _, request_id, fn, args = heapq.heappop(self._waiting)
            future = self._pending.get(request_id)
            if future is None or future.done():  # cancelled while waiting
                self._pending.pop(request_id, None)
                continue
            try:
                frame = encode((request_id, fn, args))
            except Exception as exc:  # the caller's unpicklable request: its own error
                self._pending.pop(request_id, None)
                future.set_exception(exc)
                continue
            assert self._end is not None
            self._in_flight = request_id
            self._end.send(frame)

    def _on_answer(self, answer: tuple[int, bool, Any]) -> None:
        request_id, ok, value = answer
        if request_id == self._in_flight:
            self._in_flight = None
        future = self._pending.pop(request_id, None)
        if future is not None and not future.done():
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        self._pump()

    def _broken(self, reason: str) -> None:
        self.restarts += 1
        self._fail_pending(reason)
        self.close()

    def alive(self) -> bool:
        """Whether the worker process runs now (it starts on the first call)."""
        return self._process is not None and self._process.is_alive()

    def close(self) -> None:
        """Stops the worker (the next call starts a new one); call it on the event loop."""
        end, process = self._end, self._process
        self._unbind()
        self._end, self._process, self._in_flight = None, None, None
        if end is not None:
            end.close()  # the worker sees EOF and returns
        if process is not None:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
