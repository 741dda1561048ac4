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


class OrderedCompute:
    """``submit(rank, work)``: the lowest rank waiting runs next (ties: first submitted)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._queue: queue.PriorityQueue[tuple[int, int, Callable[[], Any], Future[Any]]] = (
            queue.PriorityQueue()
        )
        self._sequence = itertools.count()
        self._ranks = itertools.count()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def next_rank(self) -> int:
        """A rank after every rank handed out so far: a new report's place in the line."""
        return next(self._ranks)

    def submit(self, rank: int, work: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self._queue.put((rank, next(self._sequence), work, future))
        self._ensure_thread()
        return future

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            _, _, work, future = self._queue.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = work()
            except BaseException as exc:  # handed to whoever awaits the future
                future.set_exception(exc)
            else:
                future.set_result(result)
