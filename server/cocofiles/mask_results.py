"""The common segm results file - compressed RLE masks with boxes - read slice by slice.

For ``--iou-type segm`` with every detection ``{"image_id", "category_id", "score",
"bbox": [x, y, w, h], "segmentation": {"size": [h, w], "counts": "<compressed>"}}``
(what pycocotools' ``encode`` and most detectors write), loadRes' rules reduce to
columns, ``area = w * h`` and the mask as given. Each slice of the array (see
slices.py) is turned into columns and its strings are decoded at once, then freed:
peak memory is the file's bytes plus the decoded runs instead of the parsed file's
dicts and strings (about three times its size). Anything else - a polygon or
uncompressed mask, a malformed string, a size that is not the image's - declines
with :class:`NotStreamable`, and the full reader in results.py names the object.
"""

from __future__ import annotations

from itertools import chain
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from server.cocofiles.box_results import BoxColumns, slice_columns
from server.cocofiles.columns import GrowingColumn
from server.cocofiles.ground_truth import CocoGroundTruth
from server.cocofiles.slices import NotStreamable, array_slices
from server.evaluation.geometry.rle import RleBatch, run_sums
from server.evaluation.geometry.rle_codec import decode_strings_uint32

IntArray = NDArray[np.int64]
#: no detection with a mask is shorter than this many bytes
_MIN_OBJECT_BYTES = 64
#: decode once this many characters of strings are pending (numpy passes over a
#: few hundred thousand elements amortise their per-call cost and stay in cache)
_DECODE_CHARS = 1 << 18


class MaskColumns(NamedTuple):
    boxes: BoxColumns
    masks: RleBatch


class _Masks:
    """Decoded runs of all masks so far, filled in place (see GrowingColumn)."""

    def __init__(self, data_bytes: int) -> None:
        # every run takes at least one character of the file: runs <= bytes
        self.runs = GrowingColumn(data_bytes + 1, np.uint32)
        capacity = data_bytes // _MIN_OBJECT_BYTES + 1
        self.ends = GrowingColumn(capacity, np.int64)
        self.heights = GrowingColumn(capacity, np.int64)
        self.widths = GrowingColumn(capacity, np.int64)
        self._strings: list[str] = []
        self._sizes: list[IntArray] = []
        self._chars = 0

    def add(self, strings: list[str], heights: IntArray, widths: IntArray) -> None:
        self._strings += strings
        self._sizes.append(np.stack([heights, widths], axis=1))
        self._chars += sum(map(len, strings))
        if self._chars >= _DECODE_CHARS:
            self.flush()

    def flush(self) -> None:
        if not self._strings:
            return
        try:
            runs, offsets = decode_strings_uint32(self._strings)
        except ValueError:
            raise NotStreamable from None
        sizes = np.concatenate(self._sizes)
        if not np.array_equal(run_sums(runs, offsets), sizes[:, 0] * sizes[:, 1]):
            raise NotStreamable  # runs that do not fill their size: the full reader says which
        self.ends.extend(offsets[1:] + self.runs.size)
        self.runs.extend(runs)
        self.heights.extend(sizes[:, 0])
        self.widths.extend(sizes[:, 1])
        self._strings, self._sizes, self._chars = [], [], 0

    def batch(self) -> RleBatch:
        self.flush()
        offsets = np.concatenate([np.zeros(1, np.int64), self.ends.array()])
        return RleBatch(self.runs.array(), offsets, self.heights.array(), self.widths.array())


def streamed_masks(data: bytes, gt: CocoGroundTruth) -> MaskColumns:
    """The detections of ``data`` (a results file's bytes) as columns and masks, in file order.

    Raises:
        NotStreamable: not the clean case; read the file with the full reader.
    """
    capacity = len(data) // _MIN_OBJECT_BYTES + 1
    item, label = GrowingColumn(capacity, np.int64), GrowingColumn(capacity, np.int64)
    score, bbox = GrowingColumn(capacity, np.float64), GrowingColumn(capacity, np.float64, 4)
    masks = _Masks(len(data))
    for items in array_slices(data):
        if not items:
            continue
        part = slice_columns(items, gt)
        strings, heights, widths = _slice_masks(items)
        if (part.item < 0).any():
            raise NotStreamable
        known = gt.image_heights[part.item] >= 0
        if not known.all() or not (
            np.array_equal(gt.image_heights[part.item], heights)
            and np.array_equal(gt.image_widths[part.item], widths)
        ):
            raise NotStreamable
        masks.add(strings, heights, widths)
        item.extend(part.item)
        label.extend(part.label)
        score.extend(part.score)
        bbox.extend(part.bbox)
    if item.size == 0:
        raise NotStreamable  # no detections: the full reader's branch rules apply
    boxes = BoxColumns(item.array(), label.array(), score.array(), bbox.array())
    if (
        (boxes.label < 0).any()
        or not np.isfinite(boxes.score).all()
        or not np.isfinite(boxes.bbox).all()
    ):
        raise NotStreamable
    return MaskColumns(boxes, masks.batch())


def _slice_masks(items: list[Any]) -> tuple[list[str], IntArray, IntArray]:
    """Compressed strings and sizes of one slice's segmentations, or NotStreamable."""
    try:
        segmentations = [item["segmentation"] for item in items]
        if set(map(type, segmentations)) != {dict}:
            raise NotStreamable
        strings = [s["counts"] for s in segmentations]
        sizes = [s["size"] for s in segmentations]
    except KeyError:
        raise NotStreamable from None
    if set(map(type, strings)) != {str} or set(map(type, sizes)) != {list}:
        raise NotStreamable
    if set(map(type, chain.from_iterable(sizes))) != {int}:
        raise NotStreamable
    try:
        array = np.array(sizes, dtype=np.int64)
    except (ValueError, OverflowError):
        raise NotStreamable from None
    if array.shape != (len(items), 2):
        raise NotStreamable
    return strings, array[:, 0].copy(), array[:, 1].copy()
