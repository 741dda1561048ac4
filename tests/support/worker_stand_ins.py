"""Stand-ins for an evaluation's computation in the pool worker: one that dies as the
out-of-memory killer would make it, one that runs until it is stopped. Module level and light
to import, so a spawned worker can unpickle them; a test swaps one in for
``lifecycle.compute_snapshot`` (the job looks it up when it runs)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

#: The file ``slow_snapshot`` creates once it runs (read in the worker, which inherits it).
MARKER_VARIABLE = "SLICEBOARD_TEST_WORKER_MARKER"


def kill_own_worker(*_args: Any) -> None:
    """SIGKILL the worker process this runs in."""
    os.kill(os.getpid(), signal.SIGKILL)


def slow_snapshot(*_args: Any) -> None:
    """Write this worker's pid to the marker file, then spin for a minute."""
    marker = os.environ.get(MARKER_VARIABLE)
    if marker:
        Path(marker).write_text(str(os.getpid()))
    deadline = time.perf_counter() + 60.0
    while time.perf_counter() < deadline:
        pass
