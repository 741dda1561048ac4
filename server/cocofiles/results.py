"""A COCO results (detections) file as engine arrays, with pycocotools' ``loadRes`` rules.

``loadRes`` picks one branch for the whole file from the FIRST result's keys:

- ``bbox`` present and not ``[]``: every result needs a bbox; its area is the
  box's w*h (also in segm mode); a result without segmentation gets the box as
  a polygon.
- else ``segmentation``: area and (missing) bbox come from the mask.
- else ``keypoints``: area and bbox come from the extent of all keypoints
  (including those with visibility 0).

Results are evaluated only on the ground truth's images; a result for another
image is an error (pycocotools asserts). A result whose category is not a
ground-truth category is an error too, unless ``skip_unknown_categories``, which
drops it as pycocotools silently does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sliceboard.cocofiles.box_results import BoxPart, start_boxes, streamed_boxes
from sliceboard.cocofiles.columns import Records, map_file, parse_json, read_bytes
from sliceboard.cocofiles.errors import CocoFileError, short_repr
from sliceboard.cocofiles.ground_truth import COCO_KEYPOINTS, CocoGroundTruth, IouType
from sliceboard.cocofiles.halves import SecondPart
from sliceboard.cocofiles.keypoint_results import (
    KeypointPart,
    start_keypoints,
    streamed_keypoints,
)
from sliceboard.cocofiles.mask_results import MaskPart, start_masks, streamed_masks
from sliceboard.cocofiles.masks import boxes_as_masks, masks_of
from sliceboard.cocofiles.slices import NotStreamable
from sliceboard.evaluation.geometry.rle import RleBatch
from sliceboard.evaluation.geometry.rle_strings import RleStrings

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class CocoResults:
    """P detections, in file order (ties in score keep it, as in pycocotools).

    Attributes:
        path: the file, as named in error messages.
        row: int64 (P,) position of each kept detection in the file.
        item, label: int64 (P,) indices into the ground truth's images/categories.
        score: float64 (P,).
        area: float64 (P,) area as loadRes sets it (decides the area range).
        bbox: float64 (P, 4) xywh.
        masks: RLE per detection in segm mode (as compressed strings when the file was
            streamed, see rle_strings.py), else None.
        keypoints: float64 (P, 51) in keypoints mode, else None.
        skipped: detections dropped for an unknown category.
    """

    path: str
    row: IntArray
    item: IntArray
    label: IntArray
    score: FloatArray
    area: FloatArray
    bbox: FloatArray
    masks: RleBatch | RleStrings | None
    keypoints: FloatArray | None
    skipped: int

    def __len__(self) -> int:
        return int(self.item.shape[0])


def _where(items: list[Any]) -> Callable[[int], str]:
    def where(i: int) -> str:
        obj = items[i] if isinstance(items, list) and i < len(items) else None
        if isinstance(obj, dict) and "image_id" in obj:
            return f"annotation {i} (image_id {short_repr(obj['image_id'], 30)})"
        return f"annotation {i}"

    return where


@dataclass
class EarlyResults:
    """A results file mapped, and for a big file a child already reading its later part
    (:func:`start_results`). :meth:`cancel` it unless :func:`load_results` took it."""

    path: str
    raw: bytes
    boxes: SecondPart[BoxPart] | None = None
    masks: SecondPart[MaskPart] | None = None
    keypoints: SecondPart[KeypointPart] | None = None

    def take_keypoints(self) -> SecondPart[KeypointPart] | None:
        """The started keypoints child, which the caller now owns."""
        taken, self.keypoints = self.keypoints, None
        return taken

    def take(self) -> tuple[SecondPart[BoxPart] | None, SecondPart[MaskPart] | None]:
        """The started children, which the caller now owns."""
        taken = self.boxes, self.masks
        self.boxes = self.masks = None
        return taken

    def cancel(self) -> None:
        for started in (*self.take(), self.take_keypoints()):
            if started is not None:
                started.cancel()


def start_results(path: str, iou_type: IouType) -> EarlyResults | None:
    """Starts reading a results file before the ground truth is read (a child reads the
    detections after a cut while this process reads the ground truth)."""
    raw = map_file(path)
    if iou_type == "keypoints":
        return EarlyResults(path, raw, keypoints=start_keypoints(raw))
    if iou_type == "bbox":
        return EarlyResults(path, raw, boxes=start_boxes(raw))
    return EarlyResults(path, raw, masks=start_masks(raw))


def load_results(
    path: str,
    gt: CocoGroundTruth,
    *,
    skip_unknown_categories: bool = False,
    early: EarlyResults | None = None,
) -> CocoResults:
    """Reads and validates a results file against ``gt`` (evaluated as ``gt.iou_type``).

    ``early``: :func:`start_results` of the same file, taken over here.

    Raises:
        CocoFileError: naming the first result that pycocotools could not use.
    """
    started_boxes, started_masks, started_keypoints = None, None, None
    if early is not None and early.path == path:
        raw = early.raw
        started_boxes, started_masks = early.take()
        started_keypoints = early.take_keypoints()
    else:
        raw = map_file(path)
    for started, kind in (
        (started_boxes, "bbox"), (started_masks, "segm"), (started_keypoints, "keypoints")
    ):  # fmt: skip
        if started is not None and gt.iou_type != kind:
            started.cancel()
    if gt.iou_type == "bbox":
        try:
            item, label, score, bbox = streamed_boxes(raw, gt, started_boxes)
        except NotStreamable:
            pass
        else:
            rows = np.arange(item.shape[0], dtype=np.int64)
            area = bbox[:, 2] * bbox[:, 3]
            return CocoResults(path, rows, item, label, score, area, bbox, None, None, 0)
    if gt.iou_type == "segm":
        try:
            boxes, own_masks, mask_area = streamed_masks(raw, gt, started_masks)
        except NotStreamable:
            pass
        else:
            del raw
            rows = np.arange(boxes.item.shape[0], dtype=np.int64)
            # loadRes' bbox branch (area w * h), or its segm branch (the masks' own)
            area = boxes.bbox[:, 2] * boxes.bbox[:, 3] if mask_area is None else mask_area
            return CocoResults(
                path,
                rows,
                boxes.item,
                boxes.label,
                boxes.score,
                area,
                boxes.bbox,
                own_masks,
                None,
                0,
            )
    if gt.iou_type == "keypoints":
        try:
            boxes, kp_area, kp_columns = streamed_keypoints(raw, gt, started_keypoints)
        except NotStreamable:
            pass
        else:
            rows = np.arange(boxes.item.shape[0], dtype=np.int64)
            return CocoResults(
                path, rows, boxes.item, boxes.label, boxes.score, kp_area, boxes.bbox, None,
                kp_columns, 0,
            )  # fmt: skip
    data = parse_json(path, raw if type(raw) is bytes else read_bytes(path))
    del raw
    if type(data) is not list:
        raise CocoFileError(path, "", "results must be a JSON array of detections")
    anns = Records(path, data, "annotation", _where(data))
    item = gt.images.lookup(anns.column("image_id"))
    if (item < 0).any():
        anns.fail(int(np.argmax(item < 0)), "image_id not in ground truth")
    label = gt.categories.lookup(anns.column("category_id"))
    skipped = 0
    if (label < 0).any():
        if not skip_unknown_categories:
            anns.fail(
                int(np.argmax(label < 0)),
                "category_id not in the ground truth's categories "
                "(--skip-unknown-categories drops such detections, as pycocotools does)",
            )
        keep = np.flatnonzero(label >= 0)
        skipped = len(anns) - int(keep.shape[0])
        anns = Records(
            path,
            [data[i] for i in keep.tolist()],
            "annotation",
            lambda i: _where(data)(int(keep[i])),
        )
        item, label = item[keep], label[keep]
        rows = keep.astype(np.int64)
    else:
        rows = np.arange(len(anns), dtype=np.int64)
    score = anns.numbers("score")
    area, bbox, masks, keypoints = _geometry(anns, data, gt, item)
    return CocoResults(path, rows, item, label, score, area, bbox, masks, keypoints, skipped)


def _geometry(
    anns: Records, data: list[Any], gt: CocoGroundTruth, item: IntArray
) -> tuple[FloatArray, FloatArray, RleBatch | None, FloatArray | None]:
    """area, bbox, masks, keypoints following loadRes' branch for ``data[0]``."""
    n = len(anns)
    heights, widths = gt.image_heights[item], gt.image_widths[item]
    segm, kp_mode = gt.iou_type == "segm", gt.iou_type == "keypoints"
    keypoints = (
        anns.vectors("keypoints", anns.column("keypoints"), 3 * COCO_KEYPOINTS) if kp_mode else None
    )
    masks: RleBatch | None = None
    first = data[0] if data else {}
    if n == 0:
        bbox, area = np.zeros((0, 4)), np.zeros(0)
        masks = boxes_as_masks(bbox, heights, widths) if segm else None
    elif "bbox" in first and first["bbox"] != []:
        bbox = anns.vectors("bbox", anns.column("bbox"), 4)
        area = bbox[:, 2] * bbox[:, 3]
        if segm:
            masks = _masks_or_boxes(anns, bbox, heights, widths)
    elif "segmentation" in first:
        masks = _all_masks(anns, heights, widths)
        area = masks.area().astype(np.float64)
        bbox = masks.bbox()
        given = anns.column_or("bbox", None)
        has_box = [b is not None for b in given]
        if any(has_box) and gt.iou_type == "bbox":
            rows = np.flatnonzero(has_box)
            bbox[rows] = anns.vectors("bbox", [given[i] for i in rows.tolist()], 4)
        if not segm:
            masks = None
    elif "keypoints" in first:
        kps = (
            keypoints
            if keypoints is not None
            else anns.vectors("keypoints", anns.column("keypoints"), 3 * COCO_KEYPOINTS)
        )
        x, y = kps[:, 0::3], kps[:, 1::3]
        x0, x1, y0, y1 = x.min(axis=1), x.max(axis=1), y.min(axis=1), y.max(axis=1)
        area = (x1 - x0) * (y1 - y0)
        bbox = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)
        if segm:
            masks = _all_masks(anns, heights, widths)
    else:
        raise CocoFileError(
            anns.file, anns.where(0), "a detection needs a bbox, a segmentation or keypoints"
        )
    return area, bbox, masks, keypoints


def _all_masks(anns: Records, heights: IntArray, widths: IntArray) -> RleBatch:
    rows = np.arange(len(anns), dtype=np.int64)
    return masks_of(anns, rows, anns.column("segmentation"), heights, widths)


def _masks_or_boxes(
    anns: Records, bbox: FloatArray, heights: IntArray, widths: IntArray
) -> RleBatch:
    """A result's own segmentation, or its box as a polygon when it has none (loadRes)."""
    segs = anns.column_or("segmentation", None)
    has = np.fromiter((s is not None for s in segs), dtype=bool, count=len(segs))
    if has.all():
        return _all_masks(anns, heights, widths)
    boxes = boxes_as_masks(bbox, heights, widths)
    if not has.any():
        return boxes
    rows = np.flatnonzero(has)
    own = masks_of(anns, rows, [segs[i] for i in rows.tolist()], heights[rows], widths[rows])
    none = np.flatnonzero(~has)
    merged = RleBatch.concat([own, boxes.take(none)])
    position = np.empty(len(segs), dtype=np.int64)
    position[np.concatenate([rows, none])] = np.arange(len(segs))
    return merged.take(position)
