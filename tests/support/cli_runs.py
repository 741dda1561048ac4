"""``sliceboard ...`` as a child process, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping


def sliceboard(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The command's exit code, stdout and stderr (stdin closed, no terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "sliceboard.cli", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
