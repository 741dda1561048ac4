"""Hand-made cases with a similarity given as an explicit IoU matrix."""

from __future__ import annotations

import numpy as np

from sliceboard.evaluation import GroundTruth, MatchOptions, MatchTable, Predictions, evaluate


class MatrixSimilarity:
    """Similarity kernel reading ``iou[dt, gt]`` from a dense matrix."""

    def __init__(self, iou: np.ndarray) -> None:
        self.iou = np.asarray(iou, dtype=np.float64)

    def __call__(
        self, dt_index: np.ndarray, gt_index: np.ndarray, gt_crowd: np.ndarray
    ) -> np.ndarray:
        out: np.ndarray = self.iou[dt_index, gt_index]
        return out


def evaluate_matrix(
    iou: list[list[float]],
    *,
    gt_label: list[int],
    dt_label: list[int],
    dt_score: list[float],
    gt_item: list[int] | None = None,
    dt_item: list[int] | None = None,
    gt_crowd: list[bool] | None = None,
    n_labels: int = 1,
    options: MatchOptions | None = None,
    confusion: bool = True,
) -> MatchTable:
    """Evaluates a case where every object has area 50**2 (medium)."""
    n_gt, n_dt = len(gt_label), len(dt_label)
    gt_items = gt_item or [0] * n_gt
    dt_items = dt_item or [0] * n_dt
    crowd = gt_crowd or [False] * n_gt
    gt = GroundTruth.from_arrays(
        item=gt_items, label=gt_label, area=[2500.0] * n_gt, iscrowd=crowd, ignore=crowd
    )
    dt = Predictions.from_arrays(
        item=dt_items, label=dt_label, score=dt_score, area=[2500.0] * n_dt
    )
    n_items = max([*gt_items, *dt_items, 0]) + 1
    matrix = np.array(iou, dtype=np.float64).reshape(n_dt, n_gt)
    return evaluate(
        gt, dt, MatrixSimilarity(matrix), n_items, n_labels, options, confusion=confusion
    )


CAT, DOG = 0, 1
# g0 cat, g1 dog, g2 dog; d0 cat .9, d1 dog .8, d2 cat .7, d3 dog .6
CONFUSION_IOU = [[0.9, 0.0, 0.0], [0.7, 0.0, 0.0], [0.0, 0.75, 0.0], [0.0, 0.0, 0.0]]


def confusion_case(**options: object) -> MatchTable:
    return evaluate_matrix(
        CONFUSION_IOU,
        gt_label=[CAT, DOG, DOG],
        dt_label=[CAT, DOG, CAT, DOG],
        dt_score=[0.9, 0.8, 0.7, 0.6],
        n_labels=2,
        options=MatchOptions(**options),  # type: ignore[arg-type]
    )
