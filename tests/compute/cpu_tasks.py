"""Module-level functions for the process pool tests (a worker process must be able to import them
cheaply, so this module imports nothing heavy)."""

from __future__ import annotations

import os
import time


def square_sum(n: int) -> int:
    return sum(i * i for i in range(n))


def worker_pid() -> int:
    return os.getpid()


def fail(message: str) -> None:
    raise ValueError(message)


def spin(seconds: float) -> int:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        pass
    return os.getpid()
