"""The common keypoints results file - ``{"image_id", "category_id", "score", "keypoints"}`` -
read slice by slice.

loadRes decides its branch from the first detection: with a ``bbox`` (not ``[]``)
every detection needs one and its area is w * h; with no ``bbox`` and no
``segmentation`` (the usual keypoints file) area and box come from the extent of all
of a detection's keypoints, visibility 0 included. Either way each slice of the
array (see slices.py) becomes columns and is freed, and the file's half after a cut
is read by a forked child (see halves.py): peak memory is the file's bytes plus the
columns instead of every detection's dict and 51 number objects; as for boxes, the
child can start before the ground truth is read (:func:`start_keypoints`). Anything else -
a segmentation branch, a keypoint list of another length, a non-finite number, an
unknown image or category - declines with :class:`NotStreamable`, and the full
reader in results.py names the object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from sliceboard.cocofiles import halves
from sliceboard.cocofiles.box_results import (
    EARLY_SHARE,
    BoxColumns,
    BoxPart,
    check_boxes,
    joined_boxes,
    slice_columns,
)
from sliceboard.cocofiles.columns import GrowingColumn
from sliceboard.cocofiles.ground_truth import COCO_KEYPOINTS, CocoGroundTruth
from sliceboard.cocofiles.halves import Alloc, SecondPart, read_in_halves, release
from sliceboard.cocofiles.slices import NotStreamable, first_element

FloatArray = NDArray[np.float64]
_WIDTH = 3 * COCO_KEYPOINTS
#: no detection with 51 numbers is shorter than this many bytes
_MIN_OBJECT_BYTES = 128
#: from this size a child reads the later part while the ground truth is read: a number
#: costs more to parse than a box's byte, and the fork comes while this process is small
_EARLY_BYTES = 4 << 20


class KeypointColumns(NamedTuple):
    """Columns of n detections as loadRes leaves them: ``area`` (n,), ``bbox`` (n, 4) and
    ``keypoints`` (n, 51) float64."""

    boxes: BoxColumns
    area: FloatArray
    keypoints: FloatArray


class KeypointPart(BoxPart):
    """The columns of one part of the file (see halves.py)."""

    def __init__(self, n_bytes: int, alloc: Alloc) -> None:
        super().__init__(n_bytes, alloc)
        capacity = n_bytes // _MIN_OBJECT_BYTES + 1
        self.keypoints = GrowingColumn(
            capacity, np.float64, _WIDTH, buffer=alloc(capacity, np.float64, _WIDTH)
        )

    def columns(self) -> Sequence[GrowingColumn]:
        return (*super().columns(), self.keypoints)


def boxes_given(data: bytes) -> bool:
    """Whether loadRes takes the boxes as given (the first detection has a ``bbox`` that is
    not ``[]``) rather than from the keypoints.

    Raises:
        NotStreamable: no first detection, or one of loadRes' segmentation branch.
    """
    first = first_element(data)
    if type(first) is not dict:
        raise NotStreamable
    if "bbox" in first and first["bbox"] != []:
        return True
    if "segmentation" in first or "keypoints" not in first:
        raise NotStreamable
    return False


def _slice_keypoints(items: list[Any]) -> FloatArray:
    try:
        values = [item["keypoints"] for item in items]
    except (KeyError, TypeError):
        raise NotStreamable from None
    try:  # numeric as the full reader requires it: no strings, no ragged or nested lists
        array = np.array(values)
    except (ValueError, TypeError, OverflowError):
        raise NotStreamable from None
    if array.shape != (len(items), _WIDTH) or array.dtype.kind not in "iuf":
        raise NotStreamable
    out = array.astype(np.float64, copy=False)
    if not np.isfinite(out).all():
        raise NotStreamable
    return out


def _reader(
    gt: CocoGroundTruth | None, with_boxes: bool
) -> Callable[[KeypointPart, Iterable[list[Any]]], None]:
    """Reads slices into a part; without ``gt`` the file's own ids are kept."""

    def read(part: KeypointPart, slices: Iterable[list[Any]]) -> None:
        for items in slices:
            if not items:
                continue
            keypoints = _slice_keypoints(items)
            part.add(slice_columns(items, gt, with_boxes=with_boxes))
            part.keypoints.extend(keypoints)

    return read


def start_keypoints(data: bytes) -> SecondPart[KeypointPart] | None:
    """A forked child reading the detections after a cut at about ``EARLY_SHARE`` of
    ``data`` before the ground truth is read (see box_results.start_boxes); None for a
    small file or one whose first detection is not for this reader."""
    try:
        with_boxes = boxes_given(data)
    except NotStreamable:
        return None
    reader = _reader(None, with_boxes)
    return SecondPart.start(
        data, KeypointPart, reader, EARLY_SHARE, min(halves.MIN_BYTES, _EARLY_BYTES)
    )


#: keypoint rows moved (and their shared pages released) at a time when joining parts
_MOVE_ROWS = 1 << 14


def _joined_keypoints(parts: Sequence[KeypointPart]) -> FloatArray:
    """The parts' keypoints end to end; the child's rows are moved a block at a time and
    their shared pages released as they go, so they are never held twice."""
    first = parts[0].keypoints.array()
    if len(parts) == 1:
        return first
    second = parts[1].keypoints.array()
    out = np.empty((first.shape[0] + second.shape[0], _WIDTH))
    out[: first.shape[0]] = first
    for lo in range(0, second.shape[0], _MOVE_ROWS):
        block = second[lo : lo + _MOVE_ROWS]
        out[first.shape[0] + lo : first.shape[0] + lo + block.shape[0]] = block
        release(block)
    return out


def streamed_keypoints(
    data: bytes, gt: CocoGroundTruth, started: SecondPart[KeypointPart] | None = None
) -> KeypointColumns:
    """The detections of ``data`` (a keypoints results file's bytes) as columns, in file order.

    ``started``: :func:`start_keypoints` of ``data``, which reads the part after its cut.

    Raises:
        NotStreamable: not the clean case; read the file with the full reader.
    """
    try:
        with_boxes = boxes_given(data)
    except NotStreamable:
        if started is not None:
            started.cancel()
        raise
    read = _reader(gt, with_boxes)
    if started is None:
        parts = read_in_halves(data, KeypointPart, read)
        boxes = joined_boxes(parts)
    else:
        parts = started.finish(read)
        boxes = joined_boxes(parts, file_ids=gt)
    check_boxes(boxes)
    keypoints = _joined_keypoints(parts)
    del parts
    if with_boxes:
        return KeypointColumns(boxes, boxes.bbox[:, 2] * boxes.bbox[:, 3], keypoints)
    x, y = keypoints[:, 0::3], keypoints[:, 1::3]
    x0, x1, y0, y1 = x.min(axis=1), x.max(axis=1), y.min(axis=1), y.max(axis=1)
    bbox = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)
    return KeypointColumns(boxes._replace(bbox=bbox), (x1 - x0) * (y1 - y0), keypoints)
