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


def spin(seconds: float, marker: str | None = None, release: str | None = None) -> int:
    """Busy for ``seconds``, or until the file ``release`` exists; first creates the file
    ``marker`` so a test can see the work began. Returns the worker's pid."""
    if marker is not None:
        open(marker, "w").close()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        if release is not None and os.path.exists(release):
            break
    return os.getpid()
