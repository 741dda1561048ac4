"""PASCAL VOC all-point AP (VOC2010+) at one IoU threshold, from the match table.

Per label, counted predictions (TP or FP on the "all"-area row, within maxDets)
are sorted by descending score (pycocotools' tie order); AP is the area under
the monotone precision envelope, summed over the recall steps - one step of
1/npig at each TP: ``AP = sum_TP envelope(TP) / npig``. No 101-point sampling.

Shapes: K labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sliceboard.evaluation.match_table import FALSE_POSITIVE, TRUE_POSITIVE, MatchTable
from sliceboard.evaluation.types import BoolArray, EmptyClasses, FloatArray


@dataclass(frozen=True)
class VocResult:
    """Attributes: iou_threshold used; ap float64 (K,) per label (-1 undefined); mean_ap."""

    iou_threshold: float
    ap: FloatArray
    mean_ap: float


def voc_ap(
    table: MatchTable, item_mask: BoolArray | None = None, iou_threshold: float = 0.5
) -> VocResult:
    """All-point interpolated AP per label and its mean over defined labels.

    Args:
        table: the match table.
        item_mask: bool (n_items,) items to include (all when None).
        iou_threshold: an evaluated threshold (matched within 1e-9).

    Returns:
        :class:`VocResult`; labels without ground truth are -1, or 0 when they
        have predictions and the table says ``EmptyClasses.INCLUDE``.
    """
    row = table.row_index(iou_threshold, 0)
    dt_sel, gt_sel = table.item_selection(item_mask)
    state = table.dt_state[row]
    counted = np.flatnonzero(dt_sel & ((state == TRUE_POSITIVE) | (state == FALSE_POSITIVE)))
    cls = table.dt_class_row(row)[counted]
    order = np.lexsort(
        (table.dt_label[counted], table.dt_item[counted], -table.dt_score[counted], cls)
    )
    counted, cls = counted[order], cls[order]
    is_tp = state[counted] == TRUE_POSITIVE

    gt_ignored = (
        table.gt_iscrowd
        | table.gt_ignore
        | (table.gt_area < table.area_low[0])
        | (table.gt_area > table.area_high[0])
    )
    npig = np.bincount(table.gt_label[gt_sel & ~gt_ignored], minlength=table.n_labels)
    n_dets = np.bincount(cls, minlength=table.n_labels)
    bounds = np.searchsorted(cls, np.arange(table.n_labels + 1))
    include_empty = table.empty_classes == EmptyClasses.INCLUDE.value

    ap = np.full(table.n_labels, -1.0)
    for k in range(table.n_labels):
        if npig[k] == 0:
            if include_empty and n_dets[k] > 0:
                ap[k] = 0.0
            continue
        hits = is_tp[bounds[k] : bounds[k + 1]]
        tp = np.cumsum(hits)
        precision = tp / np.arange(1, hits.shape[0] + 1)
        envelope = np.maximum.accumulate(precision[::-1])[::-1]
        ap[k] = float(envelope[hits].sum() / npig[k])
    defined = ap[ap > -1]
    return VocResult(
        iou_threshold=float(table.row_threshold[row]),
        ap=ap,
        mean_ap=float(defined.mean()) if defined.size else -1.0,
    )
