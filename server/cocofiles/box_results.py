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

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from server.cocofiles.columns import GrowingColumn
from server.cocofiles.ground_truth import CocoGroundTruth
from server.cocofiles.slices import NotStreamable, array_slices

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


def streamed_boxes(data: bytes, gt: CocoGroundTruth) -> BoxColumns:
    """The detections of ``data`` (a results file's bytes) as columns, in file order.

    Raises:
        NotStreamable: not the clean case; read the file with the full reader.
    """
    capacity = len(data) // _MIN_OBJECT_BYTES + 1
    item, label = GrowingColumn(capacity, np.int64), GrowingColumn(capacity, np.int64)
    score, bbox = GrowingColumn(capacity, np.float64), GrowingColumn(capacity, np.float64, 4)
    for items in array_slices(data):
        part = slice_columns(items, gt)
        item.extend(part.item)
        label.extend(part.label)
        score.extend(part.score)
        bbox.extend(part.bbox)
    if item.size == 0:
        raise NotStreamable  # no detections: the full reader's branch rules apply
    columns = BoxColumns(item.array(), label.array(), score.array(), bbox.array())
    if (
        (columns.item < 0).any()
        or (columns.label < 0).any()
        or not np.isfinite(columns.score).all()
        or not np.isfinite(columns.bbox).all()
    ):
        raise NotStreamable
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
