"""The order of a run's items, which decides equal confidences in different items.

pycocotools accumulates each class's detections over ``sorted(imgIds)`` and sorts them by
score with a stable sort, so of two equal scores in different images the one in the image of
smaller id ranks first, and that rank moves AP. The engine breaks such ties by item index, so
items are indexed in the same order: by referenceId, numerically when every referenceId of
the dataset is an integer (COCO's image ids written as text), else by code point. The order
never depends on the order in which items or batches were uploaded. Ties inside an item keep
upload order, which the rows carry (they come by row id).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]

_INTEGER = re.compile(r"-?[0-9]+")
_INT64_DIGITS = 18  # any integer written with at most this many digits fits in int64


def tie_order(reference_ids: Sequence[str]) -> IntArray:
    """Positions of ``reference_ids`` from first to last in tie order: int64 (n,).

    Integers equal as numbers ("7", "007") are ordered by their text, so the order is total.
    """
    if all(_INTEGER.fullmatch(ref) for ref in reference_ids):
        return _numeric_order(reference_ids)
    return np.array(
        sorted(range(len(reference_ids)), key=reference_ids.__getitem__), dtype=np.int64
    )


def _numeric_order(reference_ids: Sequence[str]) -> IntArray:
    if all(len(ref.lstrip("-")) <= _INT64_DIGITS for ref in reference_ids):
        numbers = np.array([int(ref) for ref in reference_ids], dtype=np.int64)
        order = np.argsort(numbers, kind="stable")
        ordered = numbers[order]
        if not np.any(ordered[1:] == ordered[:-1]):
            return order.astype(np.int64)
    keys = [(int(ref), ref) for ref in reference_ids]
    return np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64)
