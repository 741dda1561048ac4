"""Reading the two halves of a big results file in two processes.

Parsing is most of the time of a big results file (a 300 MB file takes ~3 s of
CPU), and all of it holds the GIL: orjson builds Python objects, so a thread
cannot help. A forked child can: it reads the elements after a cut near the
middle (see slices.py) while this process reads those before it, and writes its
columns into anonymous shared memory reserved before the fork, so nothing is
pickled or copied back. Whether the cut was between two elements is only known
once the first half has been read; if it was not, or the child failed, the child's
work is dropped and this process reads the second half itself, so the result
never depends on the child.
"""

from __future__ import annotations

import mmap
import os
import signal
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from sliceboard.cocofiles.columns import GrowingColumn
from sliceboard.cocofiles.slices import Cut, array_slices, middle_cut, slices_after

#: below this many bytes a fork (and its page-table copy) costs more than it saves
MIN_BYTES = 24 << 20
_ALIGN = 64

Alloc = Callable[[int, type[np.generic], int], NDArray[Any]]


class Part(Protocol):
    """What one process reads into: columns that its ``read`` extends."""

    def columns(self) -> Sequence[GrowingColumn]: ...


P = TypeVar("P", bound=Part)


def private(capacity: int, dtype: type[np.generic], width: int = 0) -> NDArray[Any]:
    """An ordinary array (its untouched pages are never resident)."""
    return np.empty((capacity, width) if width else (capacity,), dtype=dtype)


class SharedArena:
    """Arrays carved from one anonymous shared mapping, written by the child.

    ``measure`` first: a part built with :meth:`measuring` records the bytes its
    columns need, and the mapping is made that large (pages never written cost
    nothing).
    """

    def __init__(self, size: int) -> None:
        self._mm = mmap.mmap(-1, max(size, mmap.PAGESIZE))
        self._used = 0

    @staticmethod
    def measuring(sizes: list[int]) -> Alloc:
        def alloc(capacity: int, dtype: type[np.generic], width: int = 0) -> NDArray[Any]:
            sizes.append(_aligned(capacity * max(width, 1) * np.dtype(dtype).itemsize))
            return np.empty((0, width) if width else (0,), dtype=dtype)

        return alloc

    def alloc(self, capacity: int, dtype: type[np.generic], width: int = 0) -> NDArray[Any]:
        count = capacity * max(width, 1)
        array = np.frombuffer(self._mm, dtype=dtype, count=count, offset=self._used)
        self._used += _aligned(count * array.itemsize)
        return array.reshape((capacity, width) if width else (capacity,))


def release(array: NDArray[Any]) -> None:
    """Frees the whole pages under ``array`` when it lies in a SharedArena (else nothing).

    Its contents are gone afterwards (the pages read as zeros).
    """
    base: Any = array
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    if not isinstance(base, mmap.mmap) or array.size == 0:
        return
    origin = np.frombuffer(base, dtype=np.uint8, count=1).ctypes.data
    start = array.ctypes.data - origin
    stop = start + array.nbytes
    first = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE
    last = stop // mmap.PAGESIZE * mmap.PAGESIZE
    if last > first:
        base.madvise(mmap.MADV_REMOVE, first, last - first)


def _aligned(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def read_in_halves(
    data: bytes,
    new_part: Callable[[int, Alloc], P],
    read: Callable[[P, Iterable[list[Any]]], None],
) -> list[P]:
    """The array of ``data`` read into one part, or two parts (elements before and after a cut).

    ``new_part(n_bytes, alloc)`` builds an empty part for ``n_bytes`` of the
    file with its columns allocated by ``alloc``; ``read(part, slices)`` fills
    it. Exceptions of ``read`` in this process propagate (NotStreamable
    included); the child's are only a reason to read its half here.
    """
    started = SecondPart.start(data, new_part, read)
    if started is None:
        part = new_part(len(data), private)
        read(part, array_slices(data))
        return [part]
    return started.finish(read)


class SecondPart(Generic[P]):
    """A forked child reading the elements after a cut, started before this process reads
    the elements before it - possibly much before (e.g. while it reads another file)."""

    def __init__(self, data: bytes, cut: Cut, new_part: Callable[[int, Alloc], P]) -> None:
        self.data = data
        self.cut = cut
        self.new_part = new_part
        child_bytes = len(data) - cut.open
        sizes: list[int] = []
        new_part(child_bytes, SharedArena.measuring(sizes))
        arena = SharedArena(sum(sizes) + _ALIGN * (len(sizes) + 1))
        self.header = np.frombuffer(arena.alloc(len(sizes) + 1, np.int64), dtype=np.int64)
        self.part = new_part(child_bytes, arena.alloc)
        self.pid = 0

    @classmethod
    def start(
        cls,
        data: bytes,
        new_part: Callable[[int, Alloc], P],
        read: Callable[[P, Iterable[list[Any]]], None],
        share: float = 0.5,
        min_bytes: int | None = None,
    ) -> SecondPart[P] | None:
        """The child reading with ``read`` the elements after a cut at about ``share`` of
        ``data``'s bytes; None when ``data`` is smaller than ``min_bytes`` (default
        ``MIN_BYTES``), there is one core or no cut."""
        if len(data) < (MIN_BYTES if min_bytes is None else min_bytes) or (os.cpu_count() or 1) < 2:
            return None
        cut = middle_cut(data, share)
        if cut is None:
            return None
        started = cls(data, cut, new_part)
        try:
            started.pid = os.fork()
        except OSError:
            return None
        if started.pid == 0:  # pragma: no cover - the child reports through shared memory only
            _child(data, cut, started.part, read, started.header)
        return started

    def cancel(self) -> None:
        """Stops the child (its part is not wanted)."""
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = 0

    def finish(self, read: Callable[[P, Iterable[list[Any]]], None]) -> list[P]:
        """Reads the elements before the cut here with ``read``; then the child's part, or,
        if the cut was not between elements or the child failed, a part read here."""
        data, cut = self.data, self.cut
        first = self.new_part(cut.open, private)
        try:
            read(first, array_slices(data, cut=cut))
        except BaseException:
            self.cancel()
            raise
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        columns = self.part.columns()
        if status != 0 or self.header[0] != 1:
            read(first, slices_after(data, cut))  # the child failed: read its half here
            return [first]
        for column, size in zip(columns, self.header[1:].tolist(), strict=True):
            column.size = size
        return [first, self.part]


def _child(data: bytes, cut: Cut, part: P, read: Callable[[P, Iterable[list[Any]]], None],
           header: NDArray[np.int64]) -> None:  # fmt: skip  # pragma: no cover
    code = 1
    try:
        read(part, slices_after(data, cut))
        columns = part.columns()
        if not any(c.grew for c in columns):
            header[1:] = [c.size for c in columns]
            header[0] = 1
            code = 0
    finally:
        os._exit(code)
