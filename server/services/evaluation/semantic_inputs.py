"""A run's semantic masks -> the engine's semantic table (``sliceboard.evaluation.semantic``).

Semantic masks are their own family: their labels are the segments' labels (kept apart from
the instance labels), and their numbers are pixel and segment metrics, never AP. A run with
both evaluates each family on its own and reports both (``MetricsReport.segmentation`` next to
the instance numbers).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from sliceboard.evaluation.label_maps import LabelMap
from sliceboard.evaluation.semantic import (
    MaskInput,
    SemanticTable,
    concatenate_tables,
    evaluate_semantic,
)
from sliceboard.services.evaluation.kernels import UnsupportedRun
from sliceboard.services.evaluation.options import EvaluationOptions
from sliceboard.storage.evaluation_data import SemanticData, SemanticRows

THREADS = 2


@dataclass(frozen=True, eq=False)
class SemanticResult:
    table: SemanticTable
    label_names: list[str]


def _masks(
    rows: SemanticRows,
    item_index: dict[int, int],
    label_code: dict[str, int],
    maps: dict[str, LabelMap],
) -> list[MaskInput]:
    masks = []
    for row, item_id, digest, segments in zip(
        rows.ids, rows.item_ids, rows.digests, rows.segments, strict=True
    ):
        masks.append(
            MaskInput(
                item=item_index[item_id],
                row=row,
                label_map=maps[digest],
                indices=np.array([s["index"] for s in segments], dtype=np.int64),
                labels=np.array([label_code[s["label"]] for s in segments], dtype=np.int64),
            )
        )
    return masks


def _allowed(options: EvaluationOptions, label_names: list[str]) -> np.ndarray:
    n = len(label_names)
    if options.class_agnostic:
        return np.ones((n, n), dtype=bool)
    allowed = np.eye(n, dtype=bool)
    code = {name: k for k, name in enumerate(label_names)}
    for pair in options.allowed_label_matches:
        g, d = code.get(pair.ground_truth_label), code.get(pair.model_prediction_label)
        if g is not None and d is not None:
            allowed[g, d] = True
    return allowed


def _one_per_item(rows: SemanticRows, side: str) -> None:
    seen: set[int] = set()
    for item_id in rows.item_ids:
        if item_id in seen:
            raise UnsupportedRun(f"item {item_id} has more than one semantic {side} mask")
        seen.add(item_id)


def evaluate_semantic_masks(
    data: SemanticData, item_ids: np.ndarray, options: EvaluationOptions
) -> SemanticResult:
    """``item_ids``: the snapshot's items in tie order (the table's item indices)."""
    _one_per_item(data.ground_truth, "ground-truth")
    _one_per_item(data.predictions, "predicted")
    label_names = sorted(
        {
            s["label"]
            for rows in (data.ground_truth, data.predictions)
            for seg in rows.segments
            for s in seg
        }
    )
    label_code = {name: k for k, name in enumerate(label_names)}
    item_index = {int(item): k for k, item in enumerate(item_ids.tolist())}
    missing = [
        d
        for d in dict.fromkeys(data.ground_truth.digests + data.predictions.digests)
        if d not in data.label_maps
    ]
    if missing:
        raise UnsupportedRun(f"stored semantic mask {missing[0]} is missing")
    maps = {digest: LabelMap.from_bytes(blob) for digest, blob in data.label_maps.items()}
    gt = _masks(data.ground_truth, item_index, label_code, maps)
    dt = _masks(data.predictions, item_index, label_code, maps)
    allowed = _allowed(options, label_names)
    # Contiguous item ranges on threads: the heavy steps are numpy sorts and scans that
    # release the GIL, so two threads use the machine's two cores.
    n_items = len(item_index)
    cuts = np.linspace(0, n_items, THREADS + 1).astype(int).tolist()

    def part(low: int, high: int) -> SemanticTable:
        return evaluate_semantic(
            [m for m in gt if low <= m.item < high],
            [m for m in dt if low <= m.item < high],
            n_items=n_items,
            n_labels=len(label_names),
            ignore_index=data.ignore_index,
            allowed=allowed,
        )

    with ThreadPoolExecutor(THREADS) as pool:
        parts = list(pool.map(part, cuts[:-1], cuts[1:]))
    return SemanticResult(table=concatenate_tables(parts), label_names=label_names)
