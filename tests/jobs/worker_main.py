"""A job worker process for the crash and multi-worker tests (not a test module itself).

    python -m tests.jobs.worker_main LOG_PATH

Settings come from the environment (``SLICEBOARD_DATABASE_URL``, ``SLICEBOARD_JOB_*``), as
for ``sliceboard worker``. The "test" handler appends ``start``/``done`` lines keyed by job id to
LOG_PATH (O_APPEND, one write per line, so lines from several processes never interleave) and
sleeps ``payload["steps"]`` times ``payload["step_seconds"]``, reporting progress after each.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from sliceboard.config import Settings
from sliceboard.jobs.context import JobContext
from sliceboard.jobs.runner import JobRunner
from sliceboard.runtime import Runtime


def append_line(path: Path, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


async def main(log: Path) -> None:
    async def handler(context: JobContext) -> None:
        append_line(log, f"start {context.job_id} {context.attempt} {os.getpid()}")
        steps = int(context.payload.get("steps", 1))
        for step in range(steps):
            await asyncio.sleep(float(context.payload.get("step_seconds", 0.0)))
            await context.report((step + 1) / steps, f"step {step + 1} of {steps}")
        append_line(log, f"done {context.job_id} {context.attempt} {os.getpid()}")

    runtime = Runtime.create(Settings.from_env())
    runner = JobRunner(runtime, {"test": handler}, progress_interval=0.0)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await runner.start()
    append_line(log, f"ready - - {os.getpid()}")
    await stop.wait()
    await runner.stop()
    await runtime.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
