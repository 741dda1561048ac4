"""The report worker's messages arrive whole, however large, under uvloop (the loop uvicorn
runs, which makes the descriptors it watches non-blocking) as under asyncio's own loop; a
worker is declared dead only when it is."""

from __future__ import annotations

import asyncio
import os
import pickle
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import uvloop

from sliceboard.compute.frames import FrameBuffer, encode
from sliceboard.compute.report_process import ReportWorker, WorkerUnavailable

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "uvloop": uvloop.new_event_loop,
    "asyncio": asyncio.new_event_loop,
}
BIG = 6_000_000  # far above a socket's buffer (~200 kB)


def run_on(loop: str, body: Callable[[], Coroutine[Any, Any, None]]) -> None:
    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        runner.run(body())


def test_frames_come_out_whole_whatever_the_pieces() -> None:
    messages = [b"x" * 70_000, {"a": [1, 2]}, None]
    stream = b"".join(encode(m) for m in messages)
    buffer = FrameBuffer()
    out: list[Any] = []
    for start in range(0, len(stream), 4093):
        payloads = buffer.feed(stream[start : start + 4093])
        out.extend(pickle.loads(p) for p in payloads)
        assert len(out) < len(messages) or start + 4093 >= len(stream)
    assert out == messages


@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_large_answers_and_requests_cross_without_a_restart(loop: str) -> None:
    async def body() -> None:
        worker = ReportWorker()
        try:
            pid = await worker.call(0, os.getpid)
            answers = await asyncio.gather(
                *(worker.call(rank, bytes, BIG + rank) for rank in range(8)),
                *(worker.call(rank, len, b"r" * (BIG + rank)) for rank in range(8)),
            )
            assert [len(a) for a in answers[:8]] == [BIG + rank for rank in range(8)]
            assert answers[:8] == [bytes(BIG + rank) for rank in range(8)]
            assert answers[8:] == [BIG + rank for rank in range(8)]
            assert await worker.call(0, os.getpid) == pid
            assert worker.restarts == 0
        finally:
            worker.close()

    run_on(loop, body)


def test_a_dead_worker_is_counted_and_replaced() -> None:
    async def body() -> None:
        worker = ReportWorker()
        try:
            first = await worker.call(0, os.getpid)
            with pytest.raises(WorkerUnavailable):
                await worker.call(0, os._exit, 3)
            assert worker.restarts == 1
            assert await worker.call(0, os.getpid) != first
            assert worker.restarts == 1
        finally:
            worker.close()

    run_on("uvloop", body)


def test_an_unpicklable_request_fails_alone() -> None:
    async def body() -> None:
        worker = ReportWorker()
        try:
            with pytest.raises((pickle.PicklingError, TypeError, AttributeError)):
                await worker.call(0, len, lambda: None)
            assert await worker.call(0, len, b"abc") == 3
            assert worker.restarts == 0
        finally:
            worker.close()

    run_on("uvloop", body)
