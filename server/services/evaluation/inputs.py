"""Stored rows of a model run -> the engine's arrays and similarity kernel.

The geometry family registry (``sliceboard.services.validation.families``) decides which
family evaluates a run: the family of its one geometry type, or the ``general`` family that
every type present falls back to (boxes with polygons, rotated boxes: polygon). A run whose
objects mix families that cannot be compared fails with a message naming them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sliceboard.evaluation import GroundTruth, Predictions, Similarity
from sliceboard.services.evaluation.item_order import tie_order
from sliceboard.services.evaluation.kernels import UnsupportedRun, own_or
from sliceboard.services.validation.families import BY_TYPE, CATEGORY, GeometryFamily
from sliceboard.storage.evaluation_data import ObjectRows, RunData

__all__ = ["RunInputs", "UnsupportedRun", "build_run_inputs", "evaluation_family"]


@dataclass(frozen=True)
class RunInputs:
    family: str
    kind: str  # coco_summary flavour: bbox | segm | keypoints
    ground_truth: GroundTruth
    predictions: Predictions
    similarity: Similarity
    item_ids: np.ndarray  # int64 (n_items,) item row ids in tie order (``item_order``)
    label_names: list[str]
    gt_ids: np.ndarray
    dt_ids: np.ndarray


def evaluation_family(gt: ObjectRows, dt: ObjectRows) -> GeometryFamily:
    """The family whose kernel evaluates a run; raises UnsupportedRun when there is none."""
    types = gt.type_set() | dt.type_set()
    if not types:
        return CATEGORY
    families = [BY_TYPE[name] for name in types if name in BY_TYPE]
    if len(families) == len(types):
        if len(families) == 1 and families[0].fits(gt) and families[0].fits(dt):
            return families[0]
        general = {family.general or family.type for family in families}
        if len(general) == 1:
            return BY_TYPE[general.pop()]
    raise UnsupportedRun(
        "cannot evaluate these geometry types together: " + ", ".join(sorted(types))
    )


def _label_index(rows: ObjectRows, label_names: list[str]) -> np.ndarray:
    """The rows' label codes translated into indices of the run's sorted ``label_names``."""
    position = {name: k for k, name in enumerate(label_names)}
    lookup = np.array([position[name] for name in rows.label_names], dtype=np.int64)
    return lookup[rows.label_codes] if len(rows) else np.zeros(0, dtype=np.int64)


def _item_index(item_ids: np.ndarray, row_item_ids: np.ndarray) -> np.ndarray:
    """The index in ``item_ids`` (not sorted) of each of ``row_item_ids``: int64 (n,)."""
    by_id = np.argsort(item_ids, kind="stable")
    return by_id[np.searchsorted(item_ids[by_id], row_item_ids)].astype(np.int64)


def build_run_inputs(data: RunData) -> RunInputs:
    """The engine's view of a run; raises UnsupportedRun for runs it cannot evaluate."""
    gt_rows, dt_rows = data.ground_truth, data.predictions
    semantic_predictions = data.semantic is not None and len(data.semantic.predictions) > 0
    if len(dt_rows) == 0 and not semantic_predictions:
        raise UnsupportedRun("the model run has no predictions to evaluate")
    family = evaluation_family(gt_rows, dt_rows)
    kernel = family.kernel(gt_rows, dt_rows, data.item_sizes)

    order = tie_order(data.item_reference_ids)
    item_ids = np.asarray(data.item_ids, dtype=np.int64)[order]
    label_names = sorted(set(gt_rows.label_names) | set(dt_rows.label_names))
    gt_ignore = np.zeros(len(gt_rows), dtype=bool) if kernel.gt_ignore is None else kernel.gt_ignore
    ground_truth = GroundTruth.from_arrays(
        item=_item_index(item_ids, gt_rows.item_ids),
        label=_label_index(gt_rows, label_names),
        area=own_or(gt_rows, kernel.gt_area),
        iscrowd=gt_rows.iscrowd,
        ignore=gt_ignore | gt_rows.iscrowd,
    )
    scores = np.where(np.isnan(dt_rows.confidences), 1.0, dt_rows.confidences)  # none given: 1
    predictions = Predictions.from_arrays(
        item=_item_index(item_ids, dt_rows.item_ids),
        label=_label_index(dt_rows, label_names),
        score=scores,
        area=own_or(dt_rows, kernel.dt_area),
    )
    return RunInputs(
        family=family.evaluated_as,
        kind=family.kind,
        ground_truth=ground_truth,
        predictions=predictions,
        similarity=kernel.similarity,
        item_ids=item_ids,
        label_names=label_names,
        gt_ids=gt_rows.ids,
        dt_ids=dt_rows.ids,
    )
