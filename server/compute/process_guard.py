"""Worker processes that do not outlive the server.

A spawned pool worker blocks on its task queue, whose pipe it holds both ends of, so it never
sees its parent die: after a ``kill -9`` of the server it idled forever, holding the server's
stdout open (a supervisor reading that pipe waited for ever too). Each worker now checks its
parent once a second and exits when it is gone.
"""

from __future__ import annotations

import os
import threading
import time


def exit_with_parent(parent: int) -> None:
    """Pool initializer (runs in the worker): exit once ``parent`` is no longer the parent."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and has not exited (a zombie has)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # no /proc: existence is all we know
        return True
