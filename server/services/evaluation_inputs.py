"""Stored rows of a model run -> the engine's arrays and similarity kernel.

The geometry *family* of a run decides the kernel and the COCO summary flavour:

    bbox       axis-aligned boxes                  box IoU (crowd: over the prediction)
    segm       instance masks (RLE or polygons)    mask IoU on run lengths
    category   labels without geometry             every pair in an item has similarity 1,
                                                   so matching reduces to label agreement

A run whose objects mix families that cannot be compared fails with a message naming them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from server.evaluation import GroundTruth, Predictions, Similarity, box_similarity
from server.evaluation.geometry.kernel import check_pairs
from server.evaluation.geometry.rle import RleBatch
from server.evaluation.geometry.rle_iou import rle_similarity
from server.evaluation.geometry.rle_polygon import rle_from_polygons
from server.storage.evaluation_data import ObjectRows, RunData


class UnsupportedRun(ValueError):
    """The run's objects cannot be evaluated together; the message says why, for the user."""


@dataclass(frozen=True)
class EngineInputs:
    family: str
    kind: str  # coco_summary flavour: bbox | segm | keypoints
    ground_truth: GroundTruth
    predictions: Predictions
    similarity: Similarity
    item_ids: np.ndarray
    label_names: list[str]
    gt_ids: np.ndarray
    dt_ids: np.ndarray


def _family(types: set[str], geometries: Sequence[Any], indices: Sequence[int]) -> str:
    if not types:
        return "category"
    if types == {"CATEGORY"}:
        return "category"
    if types == {"BOX"}:
        rotated = any((geometries[i] or {}).get("rotation", 0.0) for i in indices)
        if rotated:
            raise UnsupportedRun("rotated boxes are not evaluated yet; upload them as polygons")
        return "bbox"
    if types == {"SEGMENTATION"}:
        return "segm"
    raise UnsupportedRun(
        "cannot evaluate these geometry types together: " + ", ".join(sorted(types))
    )


def _boxes(geometries: Sequence[Any]) -> np.ndarray:
    if not geometries:
        return np.zeros((0, 4), dtype=np.float64)
    return np.array(
        [(g["x"], g["y"], g["width"], g["height"]) for g in geometries], dtype=np.float64
    )


def _masks(
    rows: ObjectRows, sizes: dict[int, tuple[int | None, int | None]], side: str
) -> RleBatch:
    """One RLE per object: stored compressed strings as they are, polygons rasterised as
    pycocotools' ``frPyObjects`` + ``merge`` (holes are not subtracted: COCO polygons have none)."""
    n = len(rows.ids)
    strings: list[str] = []
    string_sizes: list[tuple[int, int]] = []
    string_at: list[int] = []
    polygons: list[list[list[float]]] = []
    polygon_sizes: list[tuple[int, int]] = []
    polygon_at: list[int] = []
    for position, (item_id, geometry) in enumerate(
        zip(rows.item_ids, rows.geometries, strict=True)
    ):
        rle = geometry.get("rle") if geometry else None
        if rle is not None:
            strings.append(rle["counts"])
            string_sizes.append((int(rle["size"][0]), int(rle["size"][1])))
            string_at.append(position)
            continue
        height, width = sizes.get(item_id, (None, None))
        if not height or not width:
            raise UnsupportedRun(
                f"{side} {rows.ids[position]}: polygon masks need the item's width and height"
            )
        polygons.append(
            [[c for vertex in part["vertices"] for c in vertex] for part in geometry["polygons"]]
        )
        polygon_sizes.append((height, width))
        polygon_at.append(position)
    batches: list[tuple[list[int], RleBatch]] = []
    if strings:
        batches.append((string_at, RleBatch.from_strings(strings, string_sizes)))
    if polygons:
        heights = np.array([s[0] for s in polygon_sizes], dtype=np.int64)
        widths = np.array([s[1] for s in polygon_sizes], dtype=np.int64)
        batches.append((polygon_at, rle_from_polygons(polygons, heights, widths)))
    return _in_order(n, batches)


def _in_order(n: int, batches: list[tuple[list[int], RleBatch]]) -> RleBatch:
    """Concatenates batches and puts mask ``k`` of a batch back at its row position."""
    if len(batches) == 1 and batches[0][0] == list(range(n)):
        return batches[0][1]
    slots: list[tuple[int, np.ndarray, int, int]] = [(0, np.zeros(0, np.int64), 0, 0)] * n
    for positions, batch in batches:
        for k, position in enumerate(positions):
            runs = batch.counts[batch.offsets[k] : batch.offsets[k + 1]].astype(np.int64)
            slots[position] = (position, runs, int(batch.heights[k]), int(batch.widths[k]))
    lengths = np.array([s[1].shape[0] for s in slots], dtype=np.int64)
    counts = np.concatenate([s[1] for s in slots]) if n else np.zeros(0, np.int64)
    sizes = np.array([(s[2], s[3]) for s in slots], dtype=np.int64).reshape(-1, 2)
    return RleBatch.from_run_lengths(counts, np.r_[0, np.cumsum(lengths)], sizes, validate=False)


def _same_item(n_dt: int, n_gt: int) -> Similarity:
    """Category labels: any prediction fully 'overlaps' any ground truth of its item."""

    def similarity(dt_index: np.ndarray, gt_index: np.ndarray, gt_crowd: np.ndarray) -> np.ndarray:
        d, _, _ = check_pairs(dt_index, gt_index, gt_crowd, n_dt, n_gt)
        return np.ones(d.shape[0], dtype=np.float64)

    return similarity


def _areas(rows: ObjectRows, fallback: np.ndarray) -> np.ndarray:
    given = np.array([np.nan if a is None else a for a in rows.areas], dtype=np.float64)
    return np.where(np.isnan(given), fallback, given) if given.size else fallback


def build_inputs(data: RunData) -> EngineInputs:
    """The engine's view of a run; raises UnsupportedRun for runs it cannot evaluate."""
    gt_rows, dt_rows = data.ground_truth, data.predictions
    if not dt_rows.ids:
        raise UnsupportedRun("the model run has no predictions to evaluate")
    types = set(gt_rows.types) | set(dt_rows.types)
    geometries = [*gt_rows.geometries, *dt_rows.geometries]
    family = _family(types, geometries, range(len(geometries)))

    item_ids = np.asarray(data.item_ids, dtype=np.int64)
    item_index = {item_id: k for k, item_id in enumerate(data.item_ids)}
    label_names = sorted(set(gt_rows.labels) | set(dt_rows.labels))
    label_index = {label: k for k, label in enumerate(label_names)}

    def indices(values: Sequence[Any], lookup: dict[Any, int]) -> np.ndarray:
        return np.fromiter((lookup[v] for v in values), dtype=np.int64, count=len(values))

    n_gt, n_dt = len(gt_rows.ids), len(dt_rows.ids)
    similarity: Similarity
    kind = "bbox"
    if family == "bbox":
        gt_boxes, dt_boxes = _boxes(gt_rows.geometries), _boxes(dt_rows.geometries)
        similarity = box_similarity(dt_boxes, gt_boxes)
        gt_own_area = gt_boxes[:, 2] * gt_boxes[:, 3]
        dt_area = dt_boxes[:, 2] * dt_boxes[:, 3]
    elif family == "segm":
        kind = "segm"
        gt_masks = _masks(gt_rows, data.item_sizes, "annotation")
        dt_masks = _masks(dt_rows, data.item_sizes, "prediction")
        similarity = rle_similarity(dt_masks, gt_masks)
        gt_own_area = gt_masks.area().astype(np.float64)
        dt_area = dt_masks.area().astype(np.float64)
    else:
        similarity = _same_item(n_dt, n_gt)
        gt_own_area = np.zeros(n_gt, dtype=np.float64)
        dt_area = np.zeros(n_dt, dtype=np.float64)

    ground_truth = GroundTruth.from_arrays(
        item=indices(gt_rows.item_ids, item_index),
        label=indices(gt_rows.labels, label_index),
        area=_areas(gt_rows, gt_own_area),
        iscrowd=np.array(gt_rows.iscrowd, dtype=bool),
    )
    scores = np.array([1.0 if c is None else c for c in dt_rows.confidences], dtype=np.float64)
    predictions = Predictions.from_arrays(
        item=indices(dt_rows.item_ids, item_index),
        label=indices(dt_rows.labels, label_index),
        score=scores,
        area=_areas(dt_rows, dt_area),
    )
    return EngineInputs(
        family=family,
        kind=kind,
        ground_truth=ground_truth,
        predictions=predictions,
        similarity=similarity,
        item_ids=item_ids,
        label_names=label_names,
        gt_ids=np.asarray(gt_rows.ids, dtype=np.int64),
        dt_ids=np.asarray(dt_rows.ids, dtype=np.int64),
    )
