"""RankedThread: the lowest rank waiting runs next; close cancels what waits and stops the
thread, and the next submit starts a new one."""

from __future__ import annotations

import functools
import threading
from concurrent.futures import Future

import pytest

from sliceboard.compute.ranked_thread import RankedThread


def blocked(thread: RankedThread) -> tuple[threading.Event, Future[None]]:
    """Occupies the thread until the returned event is set."""
    release = threading.Event()
    started = threading.Event()

    def hold() -> None:
        started.set()
        release.wait(10)

    holding = thread.submit(0, hold)
    assert started.wait(10)
    return release, holding


def test_waiting_work_runs_by_rank_then_by_arrival() -> None:
    thread = RankedThread("test-ranks")
    try:
        release, holding = blocked(thread)
        order: list[str] = []
        futures = [
            thread.submit(rank, functools.partial(order.append, name))
            for rank, name in ((3, "c"), (1, "a"), (2, "b1"), (2, "b2"))
        ]
        release.set()
        for future in [holding, *futures]:
            future.result(10)
        assert order == ["a", "b1", "b2", "c"]
    finally:
        thread.close()


def test_close_cancels_waiting_work_and_a_later_submit_starts_again() -> None:
    thread = RankedThread("test-close")
    release, holding = blocked(thread)
    waiting = thread.submit(1, lambda: "never")
    settled = threading.Event()
    waiting.add_done_callback(lambda _: settled.set())
    closing = threading.Thread(target=thread.close)
    closing.start()
    assert settled.wait(10)  # while the running work still holds the thread
    assert waiting.cancelled()
    assert not holding.done()
    release.set()
    closing.join(10)
    assert not closing.is_alive()
    assert holding.done() and holding.exception() is None
    assert not thread.is_running()
    with pytest.raises(ZeroDivisionError):
        thread.submit(0, lambda: 1 // 0).result(10)
    assert thread.is_running()
    thread.close()
    assert not thread.is_running()
