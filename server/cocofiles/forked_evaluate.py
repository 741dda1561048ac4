"""evaluate() of a big case in two processes: a forked child matches the later items.

Matching a 50,000-image case takes ~3.5 s of one core, all of it numpy calls
that each run too briefly to share a core with a thread. Items are independent
(:mod:`sliceboard.evaluation.item_split`), so a forked child evaluates the items
from a cut on while this process evaluates those below it; the child writes its
match table into a memfd (shared memory: nothing is pickled) and this process
joins the two. If the child cannot be started or fails, this process evaluates
the second part itself, so the result never depends on the child.
"""

from __future__ import annotations

import mmap
import os
import signal
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from sliceboard.cocofiles.coco_inputs import CocoInputs
from sliceboard.evaluation import MatchTable, evaluate
from sliceboard.evaluation.item_split import ItemPart, join_tables, split_items

#: below this many predictions the fork and the join cost more than they save
MIN_PREDICTIONS = 1_000_000
#: share of the predictions this process matches (it joins the tables, but the child runs
#: ~13% slower per prediction: its writes copy the pages it shares with this process)
FIRST_SHARE = 0.52
_ALIGN = 64
_MAGIC = b"SBTABLE1"


def evaluate_inputs(
    inputs: CocoInputs, *, confusion: bool = False, min_predictions: int = MIN_PREDICTIONS
) -> MatchTable:
    """``evaluate`` of the inputs, in two processes when they are big enough."""
    if len(inputs.dt) < min_predictions or (os.cpu_count() or 1) < 2:
        return _evaluate(inputs, None, confusion)
    if int(inputs.dt.item.min(initial=0)) < 0:  # evaluate() names the bad input
        return _evaluate(inputs, None, confusion)
    parts = split_items(inputs.gt, inputs.dt, FIRST_SHARE)
    try:
        fd = os.memfd_create("sliceboard-match-table", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        return _evaluate(inputs, None, confusion)
    try:
        try:
            pid = os.fork()
        except OSError:
            return _evaluate(inputs, None, confusion)
        if pid == 0:  # pragma: no cover - reports through the memfd only
            _child(inputs, parts[1], confusion, fd)
        try:
            first = _evaluate(inputs, parts[0], confusion)
        except BaseException:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise
        _, status = os.waitpid(pid, 0)
        second = _read_table(fd) if status == 0 else None
        if second is None:  # the child failed: evaluate its part here
            second = _evaluate(inputs, parts[1], confusion)
        return join_tables(inputs.gt, inputs.dt, parts, (first, second))
    finally:
        os.close(fd)


def _evaluate(inputs: CocoInputs, part: ItemPart | None, confusion: bool) -> MatchTable:
    gt, dt, similarity = (
        (inputs.gt, inputs.dt, inputs.similarity)
        if part is None
        else part.inputs(inputs.gt, inputs.dt, inputs.similarity)
    )
    return evaluate(
        gt, dt, similarity, inputs.n_items, inputs.n_labels, inputs.options, confusion=confusion
    )


def _child(
    inputs: CocoInputs, part: ItemPart, confusion: bool, fd: int
) -> None:  # pragma: no cover
    code = 1
    try:
        _write_table(fd, _evaluate(inputs, part, confusion))
        code = 0
    finally:
        os._exit(code)


def _aligned(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def _write_table(fd: int, table: MatchTable) -> None:
    """The table's arrays into the memfd: magic, header length, JSON header, aligned data."""
    arrays = table.to_arrays()
    layout: list[tuple[str, str, list[int], int]] = []
    offset = 0
    for name, array in arrays.items():
        layout.append((name, array.dtype.str, list(array.shape), offset))
        offset = _aligned(offset + array.nbytes)
    header = orjson.dumps(layout)
    start = _aligned(len(_MAGIC) + 8 + len(header))
    os.ftruncate(fd, max(start + offset, 1))
    with mmap.mmap(fd, start + offset) as mm:
        for (_, _, _, at), array in zip(layout, arrays.values(), strict=True):
            if array.size == 0:
                continue
            target = np.frombuffer(mm, dtype=array.dtype, count=array.size, offset=start + at)
            target[:] = array.reshape(-1)
            del target
        mm[len(_MAGIC) : len(_MAGIC) + 8] = len(header).to_bytes(8, "little")
        mm[len(_MAGIC) + 8 : len(_MAGIC) + 8 + len(header)] = header
        mm[: len(_MAGIC)] = _MAGIC  # last: a complete table


def _read_table(fd: int) -> MatchTable | None:
    """The child's table (its arrays view the shared pages), or None if it is incomplete."""
    size = os.fstat(fd).st_size
    if size < len(_MAGIC) + 8:
        return None
    mm = mmap.mmap(fd, size, prot=mmap.PROT_READ)
    if mm[: len(_MAGIC)] != _MAGIC:
        mm.close()
        return None
    length = int.from_bytes(mm[len(_MAGIC) : len(_MAGIC) + 8], "little")
    layout = orjson.loads(mm[len(_MAGIC) + 8 : len(_MAGIC) + 8 + length])
    start = _aligned(len(_MAGIC) + 8 + length)
    arrays: dict[str, NDArray[Any]] = {}
    for name, dtype, shape, at in layout:
        count = int(np.prod(shape, dtype=np.int64))
        arrays[name] = (
            np.frombuffer(mm, dtype=dtype, count=count, offset=start + at).reshape(shape)
            if count
            else np.empty(shape, dtype=dtype)
        )
    return MatchTable.from_arrays(arrays)
