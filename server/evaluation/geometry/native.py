"""The compiled mask kernels (``_native.c``) when they were built, else None.

The C module is an optional build step (``pip install`` without a C compiler
still succeeds), so every caller keeps its numpy path and asks here first.
Both paths give the same numbers to the bit; tests run each against the other
and against pycocotools. ``SLICEBOARD_NATIVE=0`` turns the C kernels off (for
those tests and for comparing the two in a profile).

Why C at all: a profile of the 5,000-image segm bench case spent 0.35 s
rasterising polygons, 0.34 s on run-length IoU and 0.14 s decoding RLE strings
in numpy - sequential walks over run lengths that numpy can only do as many
full passes with temporaries. In C each is one pass. The slice readers
(``segm_columns``, ``box_columns``) replace ~0.5 s of CPU of list comprehensions
over a results file's parsed dicts; they decline anything but the plain case.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sliceboard.evaluation.geometry.kernel import BoolArray, FloatArray, IndexArray


def _load() -> ModuleType | None:
    if os.environ.get("SLICEBOARD_NATIVE", "1") == "0":
        return None
    try:
        from sliceboard.evaluation.geometry import _native  # type: ignore[attr-defined]
    except ImportError:
        return None
    return _native  # type: ignore[no-any-return]


_module = _load()

_DECODE_ERRORS = {
    1: "character outside the COCO alphabet (ASCII 48..111)",
    2: "ends inside a number",
    3: "a number longer than 7 characters",
    4: "a run length outside [0, 2**32)",
    5: "character outside the COCO alphabet",
}
_DECODE_FULL = 6
_DECODE_OTHER_TYPE = 7
_DECODE_SIZE = 8
#: the problem of a string whose runs do not add up to its size
SIZE_PROBLEM = "runs do not add up to the mask's size"


def enabled() -> bool:
    """Whether the C kernels are in use."""
    return _module is not None


def set_enabled(on: bool) -> bool:
    """Turns the C kernels on (when built) or off; returns the previous state. For tests."""
    global _module
    before = _module is not None
    _module = _load() if on else None
    return before


def decode_strings(
    strings: Sequence[str | bytes], capacity: int
) -> tuple[NDArray[np.uint32], NDArray[np.int64]] | None:
    """Run lengths and offsets of compressed strings, or None without the C module (or
    for items other than str and bytes).

    ``capacity`` bounds the number of runs (a run takes at least one character).
    Errors name the first bad string; within a string the problem is the one the
    numpy decoder reports (alphabet, then a cut number, a long one, the range).

    Raises:
        ValueError: ``RLE string i: <problem>``.
    """
    if _module is None:
        return None
    items = strings if isinstance(strings, list) else list(strings)
    runs = np.empty(capacity, dtype=np.uint32)
    offsets = np.zeros(len(items) + 1, dtype=np.int64)
    status, index, filled = _module.decode(items, runs, offsets)
    if status == _DECODE_FULL:  # pragma: no cover - capacity is the character count
        raise AssertionError("decode capacity too small")
    if status == _DECODE_OTHER_TYPE:  # e.g. bytearray items: numpy's decoder takes them
        return None
    if status:
        raise ValueError(f"RLE string {index}: {_DECODE_ERRORS[status]}")
    runs.resize(filled, refcheck=False)  # no views of it exist; realloc frees the tail
    return runs, offsets


def check_strings(
    chars: NDArray[np.uint8], offsets: IndexArray, heights: IndexArray, widths: IndexArray
) -> tuple[int, str] | None:
    """Whether compressed strings (ASCII end to end, ``offsets`` (n+1,)) decode and fill
    their sizes: ``(-1, "")`` when all do, else the first bad index and its problem;
    None without the C module."""
    if _module is None:
        return None
    status, index = _module.check(
        np.ascontiguousarray(chars, dtype=np.uint8),
        np.ascontiguousarray(offsets, dtype=np.int64),
        np.ascontiguousarray(heights, dtype=np.int64),
        np.ascontiguousarray(widths, dtype=np.int64),
    )
    if status == 0:
        return -1, ""
    return index, SIZE_PROBLEM if status == _DECODE_SIZE else _DECODE_ERRORS[status]


def string_summaries(
    chars: NDArray[np.uint8],
    offsets: IndexArray,
    heights: IndexArray,
    widths: IndexArray,
    area: NDArray[np.float64],
    bbox: NDArray[np.float64],
) -> tuple[int, str] | None:
    """:func:`check_strings`, also writing each mask's area (n,) (``mask.area``) and box
    (n, 4) (``mask.toBbox``) into ``area`` and ``bbox`` (C-contiguous float64) in the
    same pass over the characters; None without the C module."""
    if _module is None:
        return None
    status, index = _module.summaries(
        np.ascontiguousarray(chars, dtype=np.uint8),
        np.ascontiguousarray(offsets, dtype=np.int64),
        np.ascontiguousarray(heights, dtype=np.int64),
        np.ascontiguousarray(widths, dtype=np.int64),
        area,
        bbox,
    )
    if status == 0:
        return -1, ""
    return index, SIZE_PROBLEM if status == _DECODE_SIZE else _DECODE_ERRORS[status]


def segm_columns(
    items: list[Any],
    ids: IndexArray,
    score: NDArray[np.float64],
    bbox: NDArray[np.float64],
    sizes: IndexArray,
    ends: IndexArray,
    chars: NDArray[np.uint8],
    chars_from: int,
    area: NDArray[np.float64] | None = None,
) -> int | None:
    """Fills the columns of one slice of a segm results file (n detections: ids (n, 2) as
    the file has them, score (n,), bbox (n, 4), sizes (n, 2) as [h, w], ends (n,)) and
    copies each compressed string into ``chars`` after ``chars_from``, checking that it
    decodes and fills its size. Returns where the characters now end; None without the
    C module or when the slice is not the plain case (the caller's own reader decides).

    With ``area`` (n,): no ``bbox`` is read (a file whose first detection has none, for
    which loadRes takes both from the mask): ``area`` and ``bbox`` get each mask's
    ``mask.area`` and ``mask.toBbox``, computed while the string is checked.

    Raises:
        ValueError: a string that does not decode or does not fill its size.
    """
    if _module is None:
        return None
    status, used = _module.segm_columns(
        items, ids, score, bbox, sizes, ends, chars, chars_from, True, area
    )
    if status == 2:
        raise ValueError("an RLE string that does not decode or fill its size")
    return None if status else int(used)


def box_columns(
    items: list[Any], ids: IndexArray, score: NDArray[np.float64], bbox: NDArray[np.float64]
) -> bool:
    """``segm_columns`` for a bbox results file: fills ids (n, 2), score (n,) and bbox
    (n, 4); False without the C module or when the slice is not the plain case."""
    if _module is None:
        return False
    nothing = np.empty(0, np.int64)
    status, _ = _module.segm_columns(
        items, ids, score, bbox, nothing, nothing, np.empty(0, np.uint8), 0, False
    )
    return bool(status == 0)


def mask_iou(
    d_counts: NDArray[np.uint32] | NDArray[np.uint8],
    d_offsets: IndexArray,
    g_counts: NDArray[np.uint32],
    g_offsets: IndexArray,
    d: IndexArray,
    g: IndexArray,
    crowd: BoolArray,
    *,
    compressed: bool = False,
) -> FloatArray | None:
    """pycocotools' ``rleIou`` for pairs (d[p], g[p]) of same-size masks, or None
    without the C module. Pairs grouped by prediction are fastest.

    With ``compressed``, ``d_counts`` are the predictions' compressed strings (uint8,
    end to end, checked beforehand) and ``d_offsets`` where each starts."""
    if _module is None:
        return None
    masks = (
        np.ascontiguousarray(d_counts, dtype=np.uint8 if compressed else np.uint32),
        np.ascontiguousarray(d_offsets, dtype=np.int64),
        np.ascontiguousarray(g_counts, dtype=np.uint32),
        np.ascontiguousarray(g_offsets, dtype=np.int64),
    )
    d = np.ascontiguousarray(d, dtype=np.int64)
    g = np.ascontiguousarray(g, dtype=np.int64)
    flags = np.ascontiguousarray(crowd, dtype=np.uint8)
    out = np.empty(d.shape[0], dtype=np.float64)
    iou = _module.iou
    cut = _halfway(d) if d.shape[0] >= _THREAD_PAIRS and (os.cpu_count() or 1) > 1 else 0
    if cut == 0:
        iou(*masks, d, g, flags, out, compressed)
        return out
    # The kernel releases the GIL: the second half of the pairs runs on a thread.
    failed: list[BaseException] = []

    def second_half() -> None:
        try:
            iou(*masks, d[cut:], g[cut:], flags[cut:], out[cut:], compressed)
        except BaseException as err:  # re-raised on the calling thread
            failed.append(err)

    second = threading.Thread(target=second_half, daemon=True)
    second.start()
    try:
        iou(*masks, d[:cut], g[:cut], flags[:cut], out[:cut], compressed)
    finally:
        second.join()
    if failed:
        raise failed[0]
    return out


#: pairs from which mask IoU is split over two threads (a thread costs ~0.1 ms)
_THREAD_PAIRS = 20_000


def _halfway(d: IndexArray) -> int:
    """A cut near the middle of the pairs, moved past the rest of the middle prediction's
    group (each half then decodes and indexes it once)."""
    middle = d.shape[0] // 2
    later = np.flatnonzero(d[middle:] != d[middle - 1])
    return middle + int(later[0]) if later.size else int(middle)


def oks(
    dt_xy: tuple[FloatArray, FloatArray, IndexArray],
    gt_xyv: tuple[FloatArray, FloatArray, FloatArray, IndexArray],
    variances: FloatArray,
    labelled: IndexArray,
    box: FloatArray,
    scale: FloatArray,
    d: IndexArray,
    g: IndexArray,
) -> FloatArray | None:
    """COCOeval.computeOks of pairs (d[p], g[p]) with equal keypoint counts, or None
    without the C module. ``dt_xy``: predicted x, y and offsets (D+1,); ``gt_xyv``: ground
    truth x, y, visibility and offsets (G+1,); ``variances`` per ground-truth keypoint;
    ``labelled`` (G,) visible keypoints per ground truth; ``box`` (G, 4) as x0, x1, y0, y1
    of the box grown by its size on every side; ``scale`` (G,) area + eps.

    Coordinates that are views with one step (COCO's rows ``[x, y, v, ...]`` seen as
    ``flat[0::3]``) are read in place, not copied."""
    if _module is None:
        return None

    def f64(a: NDArray[Any]) -> NDArray[np.float64]:
        return np.ascontiguousarray(a, dtype=np.float64)

    def i64(a: NDArray[Any]) -> NDArray[np.int64]:
        return np.ascontiguousarray(a, dtype=np.int64)

    dt_x, dt_y, dt_step = _same_step(dt_xy[0], dt_xy[1])
    gt_x, gt_y, gt_v, gt_step = _same_step(gt_xyv[0], gt_xyv[1], gt_xyv[2])
    out = np.empty(d.shape[0], dtype=np.float64)
    inputs = (
        dt_x, dt_y, i64(dt_xy[2]),
        gt_x, gt_y, gt_v, i64(gt_xyv[3]),
        f64(variances), i64(labelled), f64(box), f64(scale),
    )  # fmt: skip
    steps = (dt_step, gt_step)
    d, g = i64(d), i64(g)
    cut = d.shape[0] // 2 if d.shape[0] >= _THREAD_PAIRS and (os.cpu_count() or 1) > 1 else 0
    if cut == 0:
        _module.oks(*inputs, d, g, out, *steps)
        return out
    # The kernel releases the GIL: the second half of the pairs runs on a thread.
    failed: list[BaseException] = []

    def second_half() -> None:
        try:
            _module.oks(*inputs, d[cut:], g[cut:], out[cut:], *steps)  # type: ignore[union-attr]
        except BaseException as err:  # re-raised on the calling thread
            failed.append(err)

    second = threading.Thread(target=second_half, daemon=True)
    second.start()
    try:
        _module.oks(*inputs, d[:cut], g[:cut], out[:cut], *steps)
    finally:
        second.join()
    if failed:
        raise failed[0]
    return out


def _same_step(*arrays: NDArray[Any]) -> tuple[Any, ...]:
    """float64 1-d arrays as contiguous spans read with one step, and that step: in place
    when they all are views of one step (e.g. ``flat[0::3]``, ``flat[1::3]``), else copies
    with step 1."""
    first = arrays[0]
    step = first.strides[0] // 8 if first.ndim == 1 and first.strides[0] > 0 else 0
    in_place = step > 0 and all(
        a.dtype == np.float64
        and a.ndim == 1
        and a.shape == first.shape
        and a.strides == first.strides
        and a.strides[0] % 8 == 0
        for a in arrays
    )
    if not in_place or first.shape[0] == 0:
        return (*(np.ascontiguousarray(a, dtype=np.float64) for a in arrays), 1)
    # every byte between a view's first and last element lies in its base's allocation
    length = (first.shape[0] - 1) * step + 1
    spans = tuple(np.lib.stride_tricks.as_strided(a, (length,), (8,)) for a in arrays)
    return (*spans, step)


def rasterize(
    vertices: NDArray[np.float64],
    vertex_offsets: IndexArray,
    ring_offsets: IndexArray,
    heights: IndexArray,
    widths: IndexArray,
) -> tuple[NDArray[np.uint32], IndexArray] | None:
    """Each object's rings rasterised (``rleFrPoly``) and united (``merge``): run
    lengths and offsets, or None without the C module or for coordinates beyond
    1e15 (numpy's int64 path handles those)."""
    if _module is None:
        return None
    status, counts, offsets = _module.rasterize(
        np.ascontiguousarray(vertices, dtype=np.float64),
        np.ascontiguousarray(vertex_offsets, dtype=np.int64),
        np.ascontiguousarray(ring_offsets, dtype=np.int64),
        np.ascontiguousarray(heights, dtype=np.int64),
        np.ascontiguousarray(widths, dtype=np.int64),
    )
    if status:
        return None
    return np.frombuffer(counts, dtype=np.uint32), np.frombuffer(offsets, dtype=np.int64)
