"""The parts of a slice report, computed from a snapshot and item/label masks, and the two
functions the report worker process runs on a shared snapshot (``prepare``, ``run_part``).

Pure numpy over the engine: the report worker process imports this and nothing from the web
stack or the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sliceboard.compute.report_process import mapped
from sliceboard.compute.shared_arrays import SharedSnapshot
from sliceboard.evaluation import ThresholdMetrics, coco_summary, threshold_metrics
from sliceboard.evaluation.label_subset import pooled_pr_curve, summary_stat
from sliceboard.evaluation.semantic_metrics import (
    PixelMetrics,
    SegmentMetrics,
    mean_image_iou,
    pixel_confusion,
    pixel_metrics,
    segment_metrics,
)
from sliceboard.services.evaluation.snapshot import Snapshot

COCO_FIELDS = (
    "ap", "ap50", "ap75", "ap_small", "ap_medium", "ap_large",
    "ar1", "ar10", "ar100", "ar_small", "ar_medium", "ar_large",
)  # fmt: skip
KEYPOINT_FIELDS = (
    "ap", "ap50", "ap75", "ap_medium", "ap_large", "ar100", "ar50", "ar75", "ar_medium", "ar_large",
)  # fmt: skip


def _coco_numbers(
    snapshot: Snapshot, summary: Any, label_mask: np.ndarray | None
) -> dict[str, float]:
    if label_mask is None or (summary.labels.shape[0] == 1 and summary.labels[0] == -1):
        stats = [float(s) for s in summary.stats]
    else:
        columns = np.flatnonzero(label_mask[summary.labels])
        stats = _stats_for_columns(summary, columns, snapshot.kind)
    names = KEYPOINT_FIELDS if snapshot.kind == "keypoints" else COCO_FIELDS
    coco = dict.fromkeys(COCO_FIELDS, -1.0)
    coco.update(zip(names, stats, strict=True))
    return coco


def _stats_for_columns(summary: Any, columns: np.ndarray, kind: str) -> list[float]:
    dets = [int(m) for m in summary.max_detections]
    top = dets[-1]

    def ap(iou: float | None = None, area: str = "all") -> float:
        return summary_stat(
            summary,
            columns,
            average_precision=True,
            area=area,
            max_detections=top,
            iou_threshold=iou,
        )

    def ar(max_det: int, iou: float | None = None, area: str = "all") -> float:
        return summary_stat(
            summary,
            columns,
            average_precision=False,
            area=area,
            max_detections=max_det,
            iou_threshold=iou,
        )

    if kind == "keypoints":
        return [ap(), ap(0.5), ap(0.75), ap(area="medium"), ap(area="large"),
                ar(top), ar(top, 0.5), ar(top, 0.75), ar(top, area="medium"), ar(top, area="large")]  # fmt: skip
    return [ap(), ap(0.5), ap(0.75), ap(area="small"), ap(area="medium"), ap(area="large"),
            ar(dets[0]), ar(dets[min(1, len(dets) - 1)]), ar(top),
            ar(top, area="small"), ar(top, area="medium"), ar(top, area="large")]  # fmt: skip


@dataclass(frozen=True)
class Summary:
    """COCO numbers and per-label AP/AR of a slice, without the accumulated arrays (megabytes
    a cached report would otherwise keep for nothing)."""

    coco: dict[str, float]
    labels: np.ndarray
    ap: np.ndarray
    ap50: np.ndarray
    ar: np.ndarray


def summary_part(
    snapshot: Snapshot, mask: np.ndarray | None, label_mask: np.ndarray | None
) -> Summary:
    # COCO's numbers read precision at the last maxDets only
    summary = coco_summary(snapshot.table, mask, snapshot.kind, all_precision=False)  # type: ignore[arg-type]
    return Summary(
        coco=_coco_numbers(snapshot, summary, label_mask),
        labels=summary.labels,
        ap=summary.ap,
        ap50=summary.ap50,
        ar=summary.ar,
    )


def thresholds_part(
    snapshot: Snapshot,
    mask: np.ndarray | None,
    iou_threshold: float,
    confidence_threshold: float,
    labels: list[int] | None,
) -> ThresholdMetrics:
    return threshold_metrics(snapshot.table, mask, iou_threshold, confidence_threshold, labels)


def pooled_curve_part(
    snapshot: Snapshot,
    mask: np.ndarray | None,
    iou_threshold: float,
    label_mask: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return pooled_pr_curve(snapshot.table, mask, iou_threshold, label_mask)


@dataclass(frozen=True)
class SegmentationPart:
    """A slice's semantic numbers (``sliceboard.evaluation.semantic_metrics``)."""

    item_count: int  # items of the slice with a ground-truth mask
    pixels: PixelMetrics
    mean_image_iou: float
    segments: SegmentMetrics


def segmentation_part(snapshot: Snapshot, mask: np.ndarray | None) -> SegmentationPart | None:
    table = snapshot.semantic
    if table is None:
        return None
    evaluated = table.evaluated if mask is None else table.evaluated & mask
    return SegmentationPart(
        item_count=int(np.count_nonzero(evaluated)),
        pixels=pixel_metrics(pixel_confusion(table, mask)),
        mean_image_iou=mean_image_iou(table, mask),
        segments=segment_metrics(table, mask),
    )


PARTS: dict[str, Any] = {
    "segmentation": segmentation_part,
    "summary": summary_part,
    "thresholds": thresholds_part,
    "pooled curve": pooled_curve_part,
}


def prepare(shared: SharedSnapshot) -> None:
    """Maps the snapshot and builds the indexes a slice's metrics read (in the worker)."""
    table = mapped(shared, Snapshot.from_arrays).table
    for index in ("dt_index", "gt_index", "dt_metric_position", "metric_label", "metric_rank"):
        getattr(table, index)
    table.metric_state  # noqa: B018 - built now, not on the first request


def run_part(shared: SharedSnapshot, part: str, args: tuple[Any, ...]) -> Any:
    """One report part (``PARTS``) of a snapshot the worker maps (in the worker)."""
    return PARTS[part](mapped(shared, Snapshot.from_arrays), *args)
