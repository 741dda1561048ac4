"""The common results file - boxes evaluated as boxes - read slice by slice.

For ``--iou-type bbox`` with every detection a plain ``{"image_id", "category_id",
"score", "bbox": [x, y, w, h]}`` (extra fields ignored), loadRes' rules reduce to
four columns and ``area = w * h``. Each slice of the array (see slices.py) becomes
numpy columns at once and is freed, so peak memory is the file's bytes plus the
columns instead of millions of dicts. Validation is by whole-slice checks (the
set of types of a column; the dtype and shape of the boxes' array, as the full
reader checks them). Anything that is not the clean case - a bad or missing
field, an unknown image or category, NaN - declines with :class:`NotStreamable`,
and the full reader in results.py reads the file and names the object.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from server.cocofiles.columns import GrowingColumn
from server.cocofiles.ground_truth import CocoGroundTruth
from server.cocofiles.halves import Alloc, read_in_halves
from server.cocofiles.slices import NotStreamable

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
_NUMBERS = frozenset((int, float))
#: no detection is shorter: ``{"image_id":1,"category_id":1,"score":1,"bbox":[1,1,1,1]}``
_MIN_OBJECT_BYTES = 32


class BoxColumns(NamedTuple):
    item: IntArray
    label: IntArray
    score: FloatArray
    bbox: FloatArray


class BoxPart:
    """The box columns of one part of the file (see halves.py)."""

    def __init__(self, n_bytes: int, alloc: Alloc) -> None:
        capacity = n_bytes // _MIN_OBJECT_BYTES + 1
        self.item, self.label, self.score, self.bbox = (
            GrowingColumn(capacity, dtype, width, buffer=alloc(capacity, dtype, width))
            for dtype, width in ((np.int64, 0), (np.int64, 0), (np.float64, 0), (np.float64, 4))
        )

    def box_columns(self) -> tuple[GrowingColumn, ...]:
        return (self.item, self.label, self.score, self.bbox)

    def columns(self) -> Sequence[GrowingColumn]:
        return self.box_columns()

    def add(self, part: BoxColumns) -> None:
        for column, values in zip(self.box_columns(), part, strict=True):
            column.extend(values)


def joined_boxes(parts: Sequence[BoxPart]) -> BoxColumns:
    """The parts' columns end to end (the first part's arrays when there is one)."""
    columns = [[c.array() for c in p.box_columns()] for p in parts]
    if len(parts) == 1:
        return BoxColumns(*columns[0])
    return BoxColumns(*(np.concatenate(c) for c in zip(*columns, strict=True)))


def check_boxes(columns: BoxColumns) -> None:
    """Declines what the full reader must look at: no detections, unknown ids, NaN."""
    if columns.item.size == 0:
        raise NotStreamable  # no detections: the full reader's branch rules apply
    if (
        (columns.item < 0).any()
        or (columns.label < 0).any()
        or not np.isfinite(columns.score).all()
        or not np.isfinite(columns.bbox).all()
    ):
        raise NotStreamable


def streamed_boxes(data: bytes, gt: CocoGroundTruth) -> BoxColumns:
    """The detections of ``data`` (a results file's bytes) as columns, in file order.

    Raises:
        NotStreamable: not the clean case; read the file with the full reader.
    """

    def read(part: BoxPart, slices: Iterable[list[Any]]) -> None:
        for items in slices:
            part.add(slice_columns(items, gt))

    columns = joined_boxes(read_in_halves(data, BoxPart, read))
    check_boxes(columns)
    return columns


def slice_columns(items: list[Any], gt: CocoGroundTruth) -> BoxColumns:
    n = len(items)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return BoxColumns(empty, empty, np.zeros(0), np.zeros((0, 4)))
    if set(map(type, items)) != {dict}:
        raise NotStreamable
    try:
        image_ids = [item["image_id"] for item in items]
        category_ids = [item["category_id"] for item in items]
        scores = [item["score"] for item in items]
        boxes = [item["bbox"] for item in items]
    except KeyError:
        raise NotStreamable from None
    del items
    if not set(map(type, scores)) <= _NUMBERS:
        raise NotStreamable
    try:  # numeric as the full reader requires it: no strings, no ragged or nested lists
        score = np.fromiter(scores, dtype=np.float64, count=n)
        bbox = np.array(boxes)
    except (ValueError, TypeError, OverflowError):
        raise NotStreamable from None
    if bbox.shape != (n, 4) or bbox.dtype.kind not in "iuf":
        raise NotStreamable
    return BoxColumns(
        gt.images.lookup(image_ids),
        gt.categories.lookup(category_ids),
        score,
        bbox.astype(np.float64, copy=False),
    )
