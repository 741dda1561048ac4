"""Snapshots laid out in one memory-mapped file, so the report worker process reads the very
pages the server reads instead of a second copy of every array.

The file lives in /dev/shm where there is one (memory, not disk) and is unlinked as soon as
both processes have mapped it: a mapping outlives its name, and nothing is left behind if the
server dies.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import tempfile
from dataclasses import dataclass

import numpy as np

from server.services.evaluation_snapshot import Snapshot

_ALIGN = 64
_SUFFIX = ".snapshot"
_swept: set[str] = set()


@dataclass(frozen=True)
class SharedSnapshot:
    """Where a snapshot's arrays lie: a file and (offset, dtype, shape) per array name."""

    path: str
    layout: dict[str, tuple[int, str, tuple[int, ...]]]


def _sweep_once(directory: str) -> None:
    """Removes files that a dead server left between writing and unlinking them (a crash in
    that half second), once per process."""
    if directory in _swept:
        return
    _swept.add(directory)
    for name in os.listdir(directory):
        if not (name.startswith("sliceboard-") and name.endswith(_SUFFIX)):
            continue
        pid = name.split("-")[1]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, name))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def shared_directory() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


def write_shared(snapshot: Snapshot, directory: str | None = None) -> SharedSnapshot:
    """Writes every array of ``snapshot`` into a new file; map it back with :func:`attach`."""
    # not ascontiguousarray: it turns 0-d arrays (kind, scalars) into 1-d ones
    arrays = {name: np.array(a, order="C", copy=None) for name, a in snapshot.to_arrays().items()}
    layout: dict[str, tuple[int, str, tuple[int, ...]]] = {}
    offset = 0
    for name, array in arrays.items():
        offset = -(-offset // _ALIGN) * _ALIGN
        layout[name] = (offset, array.dtype.str, tuple(array.shape))
        offset += array.nbytes
    directory = directory or tempfile.gettempdir()
    _sweep_once(directory)
    fd, path = tempfile.mkstemp(prefix=f"sliceboard-{os.getpid()}-", suffix=_SUFFIX, dir=directory)
    try:
        os.ftruncate(fd, max(offset, 1))
        with mmap.mmap(fd, max(offset, 1)) as memory:
            for name, array in arrays.items():
                start = layout[name][0]
                memory[start : start + array.nbytes] = array.tobytes()
    except BaseException:
        os.unlink(path)
        raise
    finally:
        os.close(fd)
    return SharedSnapshot(path, layout)


def attach(shared: SharedSnapshot) -> Snapshot:
    """The snapshot as read-only views of the file's mapping (raises OSError once the file is
    gone and this process never mapped it)."""
    with open(shared.path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        memory = mmap.mmap(file.fileno(), size, access=mmap.ACCESS_READ)
    arrays = {}
    for name, (offset, dtype, shape) in shared.layout.items():
        kind = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        arrays[name] = np.frombuffer(memory, dtype=kind, count=count, offset=offset).reshape(shape)
    return Snapshot.from_arrays(arrays)
