"""A pool worker exits when its parent is killed (no atexit, no pool shutdown)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from sliceboard.compute.process_guard import pid_alive

PARENT = textwrap.dedent(
    """
    import multiprocessing, os, sys
    from concurrent.futures import ProcessPoolExecutor
    from sliceboard.compute.process_guard import exit_with_parent

    if __name__ == "__main__":
        pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=exit_with_parent,
            initargs=(os.getpid(),),
        )
        print(pool.submit(os.getpid).result(), flush=True)
        sys.stdin.read()  # until killed
    """
)


def test_worker_exits_after_its_parent_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    assert pid_alive(worker)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while pid_alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(worker)
