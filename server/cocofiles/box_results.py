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

from sliceboard.cocofiles.columns import GrowingColumn
from sliceboard.cocofiles.ground_truth import CocoGroundTruth
from sliceboard.cocofiles.halves import Alloc, SecondPart, read_in_halves
from sliceboard.cocofiles.slices import NotStreamable
from sliceboard.evaluation.geometry import native

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


def joined_boxes(parts: Sequence[BoxPart], file_ids: CocoGroundTruth | None = None) -> BoxColumns:
    """The parts' columns end to end (the first part's arrays when there is one).

    With ``file_ids``, the second part holds the file's own image and category ids
    (it was read before the ground truth, see :func:`start_boxes`): they become
    indices of that ground truth here, -1 where unknown.
    """
    columns = [[c.array() for c in p.box_columns()] for p in parts]
    if file_ids is not None and len(parts) == 2:
        columns[1][0] = file_ids.images.lookup_integers(columns[1][0])
        columns[1][1] = file_ids.categories.lookup_integers(columns[1][1])
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


#: share of a big file's bytes read by this process when a child starts on the rest before
#: the ground truth is read (this process reads the ground truth meanwhile)
EARLY_SHARE = 0.35


def start_boxes(data: bytes) -> SecondPart[BoxPart] | None:
    """A forked child reading the detections after a cut at about ``EARLY_SHARE`` of
    ``data``, keeping the file's image and category ids: it needs no ground truth, so it
    can start before that is read. None for a small file (see halves.py)."""

    def read(part: BoxPart, slices: Iterable[list[Any]]) -> None:
        for items in slices:
            part.add(slice_columns(items, None))

    return SecondPart.start(data, BoxPart, read, EARLY_SHARE)


def streamed_boxes(
    data: bytes, gt: CocoGroundTruth, started: SecondPart[BoxPart] | None = None
) -> BoxColumns:
    """The detections of ``data`` (a results file's bytes) as columns, in file order.

    ``started``: :func:`start_boxes` of ``data``, which reads the part after its cut.

    Raises:
        NotStreamable: not the clean case; read the file with the full reader.
    """

    def read(part: BoxPart, slices: Iterable[list[Any]]) -> None:
        for items in slices:
            part.add(slice_columns(items, gt))

    if started is None:
        columns = joined_boxes(read_in_halves(data, BoxPart, read))
    else:
        columns = joined_boxes(started.finish(read), file_ids=gt)
    check_boxes(columns)
    return columns


def id_ranks(ids: IntArray, gt: CocoGroundTruth | None) -> tuple[IntArray, IntArray]:
    """Image and category columns from the file's integer ids (n, 2): kept as they are
    without ``gt`` (see :func:`start_boxes`), else that ground truth's indices."""
    if gt is None:
        return ids[:, 0].copy(), ids[:, 1].copy()
    return gt.images.lookup_integers(ids[:, 0]), gt.categories.lookup_integers(ids[:, 1])


def _file_ids(values: list[Any]) -> IntArray:
    """Ids as the file has them, when they are all 64-bit integers (else the part is read
    again after the ground truth, by ids' own rules)."""
    array = np.array(values)
    if array.ndim != 1 or array.dtype != np.int64:
        raise NotStreamable
    return array


def slice_columns(
    items: list[Any], gt: CocoGroundTruth | None, *, with_boxes: bool = True
) -> BoxColumns:
    """The columns of one slice; without ``with_boxes`` no ``bbox`` is read and the box
    column holds zeros (the caller fills it from the masks)."""
    n = len(items)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return BoxColumns(empty, empty, np.zeros(0), np.zeros((0, 4)))
    ids, score, bbox = np.empty((n, 2), np.int64), np.empty(n), np.empty((n, 4))
    if with_boxes and native.box_columns(items, ids, score, bbox):  # one compiled pass
        return BoxColumns(*id_ranks(ids, gt), score, bbox)
    if set(map(type, items)) != {dict}:
        raise NotStreamable
    try:
        image_ids = [item["image_id"] for item in items]
        category_ids = [item["category_id"] for item in items]
        scores = [item["score"] for item in items]
        boxes = [item["bbox"] for item in items] if with_boxes else []
    except KeyError:
        raise NotStreamable from None
    del items
    if not set(map(type, scores)) <= _NUMBERS:
        raise NotStreamable
    try:  # numeric as the full reader requires it: no strings, no ragged or nested lists
        score = np.fromiter(scores, dtype=np.float64, count=n)
        bbox = np.array(boxes) if with_boxes else np.zeros((n, 4))
    except (ValueError, TypeError, OverflowError):
        raise NotStreamable from None
    if bbox.shape != (n, 4) or bbox.dtype.kind not in "iuf":
        raise NotStreamable
    if gt is None:  # the file's own ids (:func:`start_boxes`)
        item, label = _file_ids(image_ids), _file_ids(category_ids)
    else:
        item, label = gt.images.lookup(image_ids), gt.categories.lookup(category_ids)
    return BoxColumns(item, label, score, bbox.astype(np.float64, copy=False))
