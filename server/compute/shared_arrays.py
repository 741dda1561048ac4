"""A snapshot's arrays laid out in one memory-mapped file, so the report worker process reads
the very pages the server reads instead of a second copy of every array.

The file lives in /dev/shm where there is one (memory, not disk) and is unlinked as soon as
both processes have mapped it: a mapping outlives its name, and nothing is left behind if the
server dies.
"""

from __future__ import annotations

import contextlib
import io
import mmap
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, cast

import numpy as np

from sliceboard.compute.process_guard import pid_alive

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
        if pid.isdigit() and not pid_alive(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, name))


def shared_directories() -> list[str]:
    """Where a snapshot file may go, best first: memory (/dev/shm), else the temp directory
    (a container's /dev/shm is often 64 MB)."""
    found = [d for d in ("/dev/shm", tempfile.gettempdir()) if os.path.isdir(d)]
    return list(dict.fromkeys(found))


def write_shared(
    named: Mapping[str, np.ndarray], directories: Sequence[str] | None = None
) -> SharedSnapshot:
    """Writes every array of ``named`` into a new file in the first of ``directories`` with
    room for it; map it back with :func:`attach`. Raises OSError when none has room."""
    # not ascontiguousarray: it turns 0-d arrays (kind, scalars) into 1-d ones
    arrays = {name: np.array(a, order="C", copy=None) for name, a in named.items()}
    layout, size = _layout({name: (a.dtype, a.shape) for name, a in arrays.items()})

    def fill(memory: mmap.mmap) -> None:
        for name, array in arrays.items():
            start = layout[name][0]
            memory[start : start + array.nbytes] = array.reshape(-1).view(np.uint8).data

    return _written(layout, size, fill, directories)


def write_shared_npz(blob: bytes, directories: Sequence[str] | None = None) -> SharedSnapshot:
    """The arrays of an npz blob (``np.savez``'s layout, deflated or not) written into a new
    shared file as each is inflated: no decoded copy of the whole blob in this process first,
    and one copy of every byte fewer than ``write_shared(np.load(...))``.

    Raises ValueError for an entry this cannot place as it is (Fortran order, objects, a
    format version it does not read) - decode it with ``np.load`` then - and OSError when no
    directory has room.
    """
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        entries = {
            info.filename.removesuffix(".npy"): info
            for info in archive.infolist()
            if info.filename.endswith(".npy")
        }
        headers = {}
        for name, info in entries.items():
            with archive.open(info) as entry:
                headers[name] = _npy_header(entry)
        layout, size = _layout(headers)

        def fill(memory: mmap.mmap) -> None:
            for name, info in entries.items():
                start, dtype, shape = layout[name]
                end = start + np.dtype(dtype).itemsize * int(np.prod(shape, dtype=np.int64))
                with archive.open(info) as entry:
                    _npy_header(entry)
                    view = memoryview(memory)[start:end]
                    try:
                        done = 0
                        while done < end - start:
                            got = cast(io.BufferedIOBase, entry).readinto(view[done:])
                            if not got:
                                raise ValueError(f"npz entry {name!r} ends early")
                            done += got
                    finally:
                        view.release()

        return _written(layout, size, fill, directories)


def _npy_header(entry: IO[bytes]) -> tuple[np.dtype[Any], tuple[int, ...]]:
    """(dtype, shape) of an .npy stream, which is left at its data."""
    version = np.lib.format.read_magic(entry)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(entry)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(entry)
    else:
        raise ValueError(f"npy format {version} is not read here")
    if fortran or dtype.hasobject:
        raise ValueError("a Fortran-ordered or object array")
    return dtype, tuple(shape)


def _layout(
    arrays: Mapping[str, tuple[np.dtype[Any], tuple[int, ...]]],
) -> tuple[dict[str, tuple[int, str, tuple[int, ...]]], int]:
    """Each array's (offset, dtype, shape) in the file, aligned, and the file's size."""
    layout: dict[str, tuple[int, str, tuple[int, ...]]] = {}
    offset = 0
    for name, (dtype, shape) in arrays.items():
        offset = -(-offset // _ALIGN) * _ALIGN
        layout[name] = (offset, dtype.str, tuple(shape))
        offset += dtype.itemsize * int(np.prod(shape, dtype=np.int64))
    return layout, max(offset, 1)


def _written(
    layout: dict[str, tuple[int, str, tuple[int, ...]]],
    size: int,
    fill: Callable[[mmap.mmap], None],
    directories: Sequence[str] | None,
) -> SharedSnapshot:
    error: OSError | None = None
    for directory in directories or shared_directories():
        try:
            return SharedSnapshot(_write(fill, size, directory), layout)
        except OSError as exc:
            error = exc
    raise error or OSError("no directory for a shared snapshot")


def _write(fill: Callable[[mmap.mmap], None], size: int, directory: str) -> str:
    _sweep_once(directory)
    fd, path = tempfile.mkstemp(prefix=f"sliceboard-{os.getpid()}-", suffix=_SUFFIX, dir=directory)
    try:
        # Reserve the blocks first: writing through a mapping into a full tmpfs is a SIGBUS,
        # not an error.
        os.posix_fallocate(fd, 0, size)
        with mmap.mmap(fd, size) as memory:
            fill(memory)
    except BaseException:
        os.unlink(path)
        raise
    finally:
        os.close(fd)
    return path


def attach(shared: SharedSnapshot) -> dict[str, np.ndarray]:
    """The arrays as read-only views of the file's mapping (raises OSError once the file is
    gone and this process never mapped it)."""
    with open(shared.path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        memory = mmap.mmap(file.fileno(), size, access=mmap.ACCESS_READ)
    arrays: dict[str, np.ndarray] = {}
    for name, (offset, dtype, shape) in shared.layout.items():
        kind = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        arrays[name] = np.frombuffer(memory, dtype=kind, count=count, offset=offset).reshape(shape)
    return arrays
