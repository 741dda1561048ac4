"""One worker thread that runs CPU work in the order its requests arrived.

A slice report is computed in parts (the COCO summary, then the threshold metrics) as a
query's resolvers ask for them. In a plain FIFO, eight cold reports asked for at once would
queue all eight summaries before any report's second part, so all eight would finish
together, at the end. Ordering by the report's arrival instead lets the first report
finish after its own work only; threads share the GIL, so running reports side by side
would finish none of them early either.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
#: (rank, sequence, work, future); work None stops the thread.
_Request = tuple[int, int, Callable[[], Any] | None, Future[Any] | None]


class RankedThread:
    """``submit(rank, work)``: the lowest rank waiting runs next (ties: first submitted)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._queue: queue.PriorityQueue[_Request] = queue.PriorityQueue()
        self._sequence = itertools.count()
        self._ranks = itertools.count()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def next_rank(self) -> int:
        """A rank after every rank handed out so far: a new report's place in the line."""
        return next(self._ranks)

    def submit(self, rank: int, work: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:  # so close() never misses it
            self._queue.put((rank, next(self._sequence), work, future))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, args=(self._queue,), name=self._name, daemon=True
                )
                self._thread.start()
        return future

    def close(self) -> None:
        """Stops the thread once its current work is done (waits for that) and cancels the
        work still waiting; the next ``submit`` starts a new thread."""
        with self._lock:
            thread, waiting = self._thread, self._queue
            self._thread, self._queue = None, queue.PriorityQueue()
        if thread is None:
            return
        while True:
            try:
                _, _, _, future = waiting.get_nowait()
            except queue.Empty:
                break
            if future is not None:
                future.cancel()
        waiting.put((-1, next(self._sequence), None, None))
        thread.join()

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @staticmethod
    def _run(waiting: queue.PriorityQueue[_Request]) -> None:
        while True:
            _, _, work, future = waiting.get()
            if work is None or future is None:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = work()
            except BaseException as exc:  # handed to whoever awaits the future
                future.set_exception(exc)
            else:
                future.set_result(result)
