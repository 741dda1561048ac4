"""Semantic segmentation of a run, item by item, into a table any slice sums over.

Inputs: per item at most one ground-truth and one predicted label map, each with its segments
(mask index -> label code). Per item the joint histogram of the two maps
(``pixel_confusion.joint_counts``) gives:

* the pixel confusion, label x label: rows the ground-truth label, columns the predicted one
  plus a last "unlabelled" column (the prediction left the pixel at the ignore index or gave
  no mask). Pixels whose ground truth is the ignore index are excluded everywhere. An item
  without a ground-truth mask contributes no pixels (its pixels are unknown).
* segment matches by Nucleus' rule (seed 000): a segment is the pixels of one index of a mask
  (ground-truth-ignored pixels excluded); a ground-truth and a predicted segment pair up when
  their IoU is above 1%. Pairs whose labels may match (the same label, ``classAgnostic``, or an
  ``allowedLabelMatches`` pair) are taken first, highest IoU first and one-to-one: these are
  the true positives. The segments left then pair across labels the same way (the confusions
  of the segment confusion matrix). A predicted segment that is no true positive is a false
  positive; a ground-truth segment that is none is a false negative. A declared segment with
  no (evaluated) pixel is not counted.

The result (``SemanticTable``) has one row per (item, gt label, predicted label) pixel cell and
one row per segment, each carrying its item index, so a slice's numbers are sums over the rows
of its items (``semantic_metrics``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sliceboard.evaluation.label_maps import LabelMap
from sliceboard.evaluation.pixel_confusion import JointCounts, joint_counts, single_counts

#: Nucleus: "a prediction and ground truth pair is matched if it has a IOU of more than 1%".
SEGMENT_MATCH_IOU = 0.01

GROUND_TRUTH, PREDICTION = 0, 1
TRUE_POSITIVE, FALSE_POSITIVE, FALSE_NEGATIVE = 1, 2, 3


@dataclass(frozen=True, eq=False)
class MaskInput:
    """One uploaded semantic mask: its item index, its row id and its segments."""

    item: int
    row: int
    label_map: LabelMap
    indices: NDArray[np.int64]  # (S,) the declared mask indices
    labels: NDArray[np.int64]  # (S,) their label codes


@dataclass(frozen=True, eq=False)
class SemanticTable:
    n_items: int
    n_labels: int
    evaluated: NDArray[np.bool_]  # (n_items,) items whose ground-truth pixels were counted
    pixel_item: NDArray[np.int64]  # (C,) one row per non-zero pixel cell
    pixel_gt: NDArray[np.int64]  # (C,) label code
    pixel_dt: NDArray[np.int64]  # (C,) label code, n_labels = unlabelled
    pixel_count: NDArray[np.int64]  # (C,)
    segment_item: NDArray[np.int64]  # (S,) one row per counted segment
    segment_side: NDArray[np.int8]  # (S,) GROUND_TRUTH | PREDICTION
    segment_row: NDArray[np.int64]  # (S,) annotation or prediction row id
    segment_index: NDArray[np.int64]  # (S,) index in its mask
    segment_label: NDArray[np.int64]  # (S,)
    segment_area: NDArray[np.int64]  # (S,) evaluated pixels
    segment_outcome: NDArray[np.int8]  # (S,) TRUE_POSITIVE | FALSE_POSITIVE | FALSE_NEGATIVE
    segment_partner: NDArray[np.int64]  # (S,) label of the segment it paired with, else -1
    segment_iou: NDArray[np.float64]  # (S,) IoU with that segment, else 0

    FIELDS = (
        "evaluated", "pixel_item", "pixel_gt", "pixel_dt", "pixel_count", "segment_item",
        "segment_side", "segment_row", "segment_index", "segment_label", "segment_area",
        "segment_outcome", "segment_partner", "segment_iou",
    )  # fmt: skip

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {name: getattr(self, name) for name in self.FIELDS}
        arrays["shape"] = np.array([self.n_items, self.n_labels], dtype=np.int64)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> SemanticTable:
        n_items, n_labels = (int(v) for v in arrays["shape"])
        return cls(n_items, n_labels, **{name: arrays[name] for name in cls.FIELDS})


@dataclass
class _Rows:
    """Columns collected item by item, joined once at the end."""

    parts: dict[str, list[np.ndarray]]

    @classmethod
    def empty(cls) -> _Rows:
        return cls({name: [] for name in SemanticTable.FIELDS if name != "evaluated"})

    def add(self, **columns: np.ndarray) -> None:
        for name, column in columns.items():
            self.parts[name].append(column)

    def joined(self, name: str, dtype: type) -> np.ndarray:
        parts = self.parts[name]
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)


def _lookup(mask: MaskInput | None, indices: np.ndarray, missing: int) -> np.ndarray:
    """The label code of each mask index; ``missing`` for undeclared ones (the ignore index)."""
    if mask is None or mask.indices.shape[0] == 0:
        return np.full(indices.shape[0], missing, dtype=np.int64)
    order = np.argsort(mask.indices, kind="stable")
    keys = mask.indices[order]
    at = np.clip(np.searchsorted(keys, indices), 0, keys.shape[0] - 1)
    found = keys[at] == indices
    return np.where(found, mask.labels[order][at], missing)


def _greedy(
    g: np.ndarray, d: np.ndarray, iou: np.ndarray, gt_used: set[int], dt_used: set[int]
) -> list[int]:
    """Positions of the pairs taken, highest IoU first, one-to-one (ties: lower indices)."""
    taken: list[int] = []
    for k in np.lexsort((d, g, -iou)).tolist():
        gk, dk = int(g[k]), int(d[k])
        if gk in gt_used or dk in dt_used:
            continue
        gt_used.add(gk)
        dt_used.add(dk)
        taken.append(k)
    return taken


def _item(
    item: int,
    gt: MaskInput | None,
    dt: MaskInput | None,
    n_labels: int,
    ignore_index: int,
    allowed: NDArray[np.bool_],
    rows: _Rows,
) -> None:
    if gt is not None:
        joint: JointCounts = (
            joint_counts(gt.label_map, dt.label_map)
            if dt is not None
            else single_counts(gt.label_map)
        )
        keep = joint.gt != ignore_index
        cell_gt, cell_dt, cell_n = joint.gt[keep], joint.dt[keep], joint.count[keep]
    elif dt is not None:  # no ground truth: only the predicted segments, all unmatched
        counts = dt.label_map.counts()
        cell_dt = np.array(sorted(counts), dtype=np.int64)
        cell_n = np.array([counts[k] for k in cell_dt.tolist()], dtype=np.int64)
        cell_gt = np.full(cell_dt.shape[0], -1, dtype=np.int64)
    else:
        return
    gt_label = _lookup(gt, cell_gt, -1)
    dt_label = _lookup(dt, cell_dt, -1)

    if gt is not None:  # pixels: label x label, unlabelled predictions in the last column
        cells = gt_label * (n_labels + 1) + np.where(dt_label < 0, n_labels, dt_label)
        present, inverse = np.unique(cells, return_inverse=True)
        totals = np.bincount(inverse, weights=cell_n).astype(np.int64)
        rows.add(
            pixel_item=np.full(present.shape[0], item, dtype=np.int64),
            pixel_gt=present // (n_labels + 1),
            pixel_dt=present % (n_labels + 1),
            pixel_count=totals,
        )

    # segments: areas (evaluated pixels) per declared index, intersections per cell
    def areas(index: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        declared = label >= 0
        keys, inverse = np.unique(index[declared], return_inverse=True)
        sums = np.bincount(inverse, weights=cell_n[declared], minlength=keys.shape[0])
        return keys, np.rint(sums).astype(np.int64), _lookup_label(keys, index, label)

    def _lookup_label(keys: np.ndarray, index: np.ndarray, label: np.ndarray) -> np.ndarray:
        first = {int(i): int(v) for i, v in zip(index.tolist(), label.tolist(), strict=True)}
        return np.array([first[k] for k in keys.tolist()], dtype=np.int64)

    gt_keys, gt_area, gt_lab = areas(cell_gt, gt_label)
    dt_keys, dt_area, dt_lab = areas(cell_dt, dt_label)
    both = (gt_label >= 0) & (dt_label >= 0)
    g = np.searchsorted(gt_keys, cell_gt[both])
    d = np.searchsorted(dt_keys, cell_dt[both])
    inter = cell_n[both].astype(np.float64)
    iou = inter / (gt_area[g] + dt_area[d] - inter)
    candidate = iou > SEGMENT_MATCH_IOU
    g, d, iou = g[candidate], d[candidate], iou[candidate]

    gt_partner = np.full(gt_keys.shape[0], -1, dtype=np.int64)
    dt_partner = np.full(dt_keys.shape[0], -1, dtype=np.int64)
    gt_iou = np.zeros(gt_keys.shape[0])
    dt_iou = np.zeros(dt_keys.shape[0])
    gt_out = np.full(gt_keys.shape[0], FALSE_NEGATIVE, dtype=np.int8)
    dt_out = np.full(dt_keys.shape[0], FALSE_POSITIVE, dtype=np.int8)
    gt_used: set[int] = set()
    dt_used: set[int] = set()
    may = allowed[gt_lab[g], dt_lab[d]] if g.shape[0] else np.zeros(0, dtype=bool)
    for stage, outcome in ((may, TRUE_POSITIVE), (~may, None)):
        picked = _greedy(g[stage], d[stage], iou[stage], gt_used, dt_used)
        sg, sd, si = g[stage][picked], d[stage][picked], iou[stage][picked]
        gt_partner[sg], dt_partner[sd] = dt_lab[sd], gt_lab[sg]
        gt_iou[sg], dt_iou[sd] = si, si
        if outcome is not None:
            gt_out[sg], dt_out[sd] = outcome, outcome

    for side, keys, area, lab, out, partner, best, mask in (
        (GROUND_TRUTH, gt_keys, gt_area, gt_lab, gt_out, gt_partner, gt_iou, gt),
        (PREDICTION, dt_keys, dt_area, dt_lab, dt_out, dt_partner, dt_iou, dt),
    ):
        counted = area > 0
        n = int(counted.sum())
        if n == 0 or mask is None:
            continue
        rows.add(
            segment_item=np.full(n, item, dtype=np.int64),
            segment_side=np.full(n, side, dtype=np.int8),
            segment_row=np.full(n, mask.row, dtype=np.int64),
            segment_index=keys[counted],
            segment_label=lab[counted],
            segment_area=area[counted],
            segment_outcome=out[counted],
            segment_partner=partner[counted],
            segment_iou=best[counted],
        )


def concatenate_tables(parts: Sequence[SemanticTable]) -> SemanticTable:
    """One table of several evaluated over disjoint items (given in item order)."""
    first = parts[0]
    evaluated = np.zeros(first.n_items, dtype=bool)
    for part in parts:
        evaluated |= part.evaluated
    columns = {
        name: np.concatenate([getattr(part, name) for part in parts])
        for name in SemanticTable.FIELDS
        if name != "evaluated"
    }
    return SemanticTable(first.n_items, first.n_labels, evaluated=evaluated, **columns)


def evaluate_semantic(
    ground_truth: Sequence[MaskInput],
    predictions: Sequence[MaskInput],
    *,
    n_items: int,
    n_labels: int,
    ignore_index: int,
    allowed: NDArray[np.bool_] | None = None,
) -> SemanticTable:
    """The run's semantic table. ``allowed`` bool (n_labels, n_labels) [gt label, predicted
    label]: which labels may form a true positive (default: equal labels only). At most one
    mask per item and side; each mask's ``indices`` distinct."""
    allowed = np.eye(n_labels, dtype=bool) if allowed is None else allowed
    by_item: dict[int, list[MaskInput | None]] = {}
    for side, masks in ((0, ground_truth), (1, predictions)):
        for mask in masks:
            pair = by_item.setdefault(mask.item, [None, None])
            if pair[side] is not None:
                raise ValueError(f"item {mask.item} has more than one mask on one side")
            pair[side] = mask
    rows = _Rows.empty()
    evaluated = np.zeros(n_items, dtype=bool)
    for item in sorted(by_item):
        gt, dt = by_item[item]
        if gt is not None:
            evaluated[item] = True
        _item(item, gt, dt, n_labels, ignore_index, allowed, rows)
    return SemanticTable(
        n_items=n_items,
        n_labels=n_labels,
        evaluated=evaluated,
        pixel_item=rows.joined("pixel_item", np.int64),
        pixel_gt=rows.joined("pixel_gt", np.int64),
        pixel_dt=rows.joined("pixel_dt", np.int64),
        pixel_count=rows.joined("pixel_count", np.int64),
        segment_item=rows.joined("segment_item", np.int64),
        segment_side=rows.joined("segment_side", np.int8),
        segment_row=rows.joined("segment_row", np.int64),
        segment_index=rows.joined("segment_index", np.int64),
        segment_label=rows.joined("segment_label", np.int64),
        segment_area=rows.joined("segment_area", np.int64),
        segment_outcome=rows.joined("segment_outcome", np.int8),
        segment_partner=rows.joined("segment_partner", np.int64),
        segment_iou=rows.joined("segment_iou", np.float64),
    )
