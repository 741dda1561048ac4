"""COCO ``segmentation`` values to one RLE per object, as pycocotools' ``annToRLE``.

Three forms, decided per object as pycocotools decides them: a list is polygon
parts (``merge(frPyObjects(parts, h, w))`` with the image's size), a dict whose
``counts`` is a list is uncompressed RLE, a dict whose ``counts`` is a string is
compressed RLE (both keep their own ``size``). Each form is converted for all of
its objects in one batch call; only on failure does a per-object pass run to
name the first bad object.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sliceboard.cocofiles.columns import Records, is_number
from sliceboard.cocofiles.errors import short_repr
from sliceboard.evaluation.geometry.rle import RleBatch
from sliceboard.evaluation.geometry.rle_polygon import rle_from_boxes, rle_from_polygons

IntArray = NDArray[np.int64]
_POLYGON, _UNCOMPRESSED, _COMPRESSED = 0, 1, 2
_CHUNK = 4096


def _form(value: object) -> int:
    if type(value) is list:
        return _POLYGON
    if type(value) is dict:
        counts = value.get("counts")
        if type(counts) is list:
            return _UNCOMPRESSED
        if type(counts) is str:
            return _COMPRESSED
    return -1


def _size(records: Records, row: int, value: dict[str, Any]) -> tuple[int, int]:
    size = value.get("size")
    if type(size) is not list or len(size) != 2 or not all(type(v) is int and v >= 0 for v in size):
        records.fail(row, f"segmentation size must be [height, width], got {short_repr(size)}")
    return size[0], size[1]


def masks_of(
    records: Records,
    rows: IntArray,
    segmentations: list[Any],
    heights: IntArray,
    widths: IntArray,
) -> RleBatch:
    """One RLE per object.

    Args:
        records: the file's annotation list (for error positions).
        rows: int64 (n,) each object's position in ``records``.
        segmentations: n raw ``segmentation`` values.
        heights, widths: int64 (n,) the size of each object's image.

    Raises:
        CocoFileError: a value of none of the three forms, a malformed polygon or
            RLE, or an RLE whose size is not its image's size.
    """
    forms = np.fromiter((_form(s) for s in segmentations), dtype=np.int64, count=len(segmentations))
    if (forms < 0).any():
        i = int(np.argmax(forms < 0))
        records.fail(
            int(rows[i]),
            "segmentation must be a list of polygons or an RLE {size, counts}, "
            f"got {short_repr(segmentations[i])}",
        )
    batches: list[RleBatch] = []
    order: list[IntArray] = []
    for form in (_POLYGON, _UNCOMPRESSED, _COMPRESSED):
        idx = np.flatnonzero(forms == form)
        if idx.size == 0:
            continue
        values = [segmentations[i] for i in idx.tolist()]
        batch = _convert(records, form, rows[idx], values, heights[idx], widths[idx])
        if form != _POLYGON:
            known = heights[idx] >= 0
            wrong = known & ((batch.heights != heights[idx]) | (batch.widths != widths[idx]))
            if wrong.any():
                j = int(np.argmax(wrong))
                records.fail(
                    int(rows[idx[j]]),
                    f"segmentation size [{batch.heights[j]}, {batch.widths[j]}] is not the "
                    f"image's size [{heights[idx[j]]}, {widths[idx[j]]}]",
                )
        batches.append(batch)
        order.append(idx)
    if len(batches) == 1:
        return batches[0]
    if not batches:
        return RleBatch.concat([])
    merged = RleBatch.concat(batches)
    position = np.empty(len(segmentations), dtype=np.int64)
    position[np.concatenate(order)] = np.arange(len(segmentations))
    return merged.take(position)


def boxes_as_masks(boxes: NDArray[np.float64], heights: IntArray, widths: IntArray) -> RleBatch:
    """The polygon loadRes gives a bbox-only detection, rasterised (``frPyObjects``)."""
    return rle_from_boxes(boxes, heights, widths)


def _convert(
    records: Records,
    form: int,
    rows: IntArray,
    values: list[Any],
    heights: IntArray,
    widths: IntArray,
) -> RleBatch:
    try:
        return RleBatch.concat(
            [
                _convert_batch(
                    records, form, rows[lo:hi], values[lo:hi], heights[lo:hi], widths[lo:hi]
                )
                for lo, hi in _chunks(len(values), form)
            ]
        )
    except ValueError:
        pass
    for k, value in enumerate(values):  # slow path: name the first bad object
        try:
            _convert_batch(
                records, form, rows[k : k + 1], [value], heights[k : k + 1], widths[k : k + 1]
            )
        except ValueError as exc:
            problem = str(exc).split(": ", 1)[-1]
            kind = ("polygon", "uncompressed RLE", "RLE")[form]
            records.fail(int(rows[k]), f"malformed {kind} segmentation: {problem}")
    raise AssertionError("a batch failed but none of its objects did")  # pragma: no cover


def _all_number_lists(objects: list[list[Any]]) -> bool:
    """Every object is a list of lists of numbers (one type pass, no per-number call)."""
    parts = list(chain.from_iterable(objects))
    if set(map(type, parts)) - {list}:
        return False
    return not set(map(type, chain.from_iterable(parts))) - {int, float}


def _chunks(n: int, form: int) -> list[tuple[int, int]]:
    """Bounds of the blocks converted at once. Compressed strings go in one call (the decoder
    bounds its own memory, and joining blocks would briefly hold every run twice); polygons
    and uncompressed counts are converted in blocks to bound their temporaries."""
    if form == _COMPRESSED:
        return [(0, n)]
    return [(lo, min(n, lo + _CHUNK)) for lo in range(0, n, _CHUNK)] or [(0, 0)]


def _convert_batch(
    records: Records,
    form: int,
    rows: IntArray,
    values: list[Any],
    heights: IntArray,
    widths: IntArray,
) -> RleBatch:
    if form == _POLYGON:
        if (heights < 0).any():
            k = int(np.argmax(heights < 0))
            records.fail(
                int(rows[k]), "a polygon needs its image's width and height, which are missing"
            )
        if not _all_number_lists(values):
            for k, parts in enumerate(values):
                if not all(type(p) is list and all(is_number(v) for v in p) for p in parts):
                    records.fail(
                        int(rows[k]),
                        f"polygon parts must be lists of numbers, got {short_repr(parts)}",
                    )
        return rle_from_polygons(values, heights, widths)
    sizes = [_size(records, int(rows[k]), v) for k, v in enumerate(values)]
    if form == _UNCOMPRESSED:
        for k, v in enumerate(values):
            if not all(type(c) is int for c in v["counts"]):
                records.fail(int(rows[k]), "uncompressed RLE counts must be integers")
        return RleBatch.from_counts([v["counts"] for v in values], sizes)
    return RleBatch.from_strings([v["counts"] for v in values], sizes)
