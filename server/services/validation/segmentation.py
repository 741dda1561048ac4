"""Segmentation masks: exactly one of a COCO RLE ``{counts, size: [h, w]}`` or a list of polygons.

RLE counts arrive as COCO's compressed string or as a list of run lengths; both are stored as
the compressed string, so readers decode one form. The codec is the evaluation engine's
(``sliceboard.evaluation.geometry.rle_codec``), so upload and evaluation agree on what decodes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

from sliceboard.evaluation.geometry.rle import rle_problem
from sliceboard.evaluation.geometry.rle_codec import decode_strings, encode_counts
from sliceboard.input_limits import input_limits
from sliceboard.services.validation.issues import Issues
from sliceboard.services.validation.polygon import check_shape, parse_rings, shape_of

#: COCO run lengths are uint32, so no setting may allow more pixels than this.
MAX_PIXELS = 2**32 - 1


def _parse_size(raw: object, path: str, issues: Issues) -> tuple[int, int] | None:
    """``[height, width]`` within ``SLICEBOARD_MAX_MASK_SIDE`` and ``SLICEBOARD_MAX_MASK_PIXELS``."""
    if not isinstance(raw, list) or len(raw) != 2 or any(type(v) is not int or v <= 0 for v in raw):
        issues.add(path, "must be [height, width], two positive integers")
        return None
    limits = input_limits()
    if max(raw) > limits.mask_side:
        issues.add(path, f"a mask side may be at most {limits.mask_side} pixels")
        return None
    pixels = min(limits.mask_pixels, MAX_PIXELS)
    if raw[0] * raw[1] > pixels:
        issues.add(path, f"a mask may have at most {pixels} pixels")
        return None
    return raw[0], raw[1]


def _decode(text: str) -> tuple[np.ndarray, str | None]:
    try:
        counts, _ = decode_strings([text])
    except ValueError as error:
        return np.zeros(0, dtype=np.int64), str(error).removeprefix("RLE string 0: ")
    return counts, None


def parse_rle(raw: object, path: str, issues: Issues) -> tuple[dict[str, Any], float] | None:
    if not isinstance(raw, dict):
        issues.add(path, "must be an object {counts, size}")
        return None
    size = _parse_size(raw.get("size"), path + ".size", issues)
    counts_raw = raw.get("counts")
    if isinstance(counts_raw, str):
        counts, problem = _decode(counts_raw)
    elif isinstance(counts_raw, list) and all(type(v) is int for v in counts_raw):
        # Checked in Python first: a huge int would overflow the int64 array.
        problem = None
        if any(v < 0 for v in counts_raw):
            problem = "run lengths must not be negative"
        elif size is not None and sum(counts_raw) != size[0] * size[1]:
            problem = (
                f"run lengths sum to {sum(counts_raw)}, not height*width = {size[0] * size[1]}"
            )
        counts = np.asarray(counts_raw if problem is None else [], dtype=np.int64)
    else:
        issues.add(path + ".counts", "must be a COCO compressed string or a list of integers")
        return None
    if problem is None and size is not None:
        problem = rle_problem(counts, size[0], size[1])
    if problem is not None:
        issues.add(path + ".counts", problem)
        return None
    if size is None:
        return None
    if isinstance(counts_raw, str):
        stored = counts_raw
    else:
        stored = encode_counts(counts, np.array([0, counts.shape[0]], dtype=np.int64))[0]
    area = float(counts[1::2].sum())
    return {"rle": {"counts": stored, "size": [size[0], size[1]]}}, area


def parse_segmentation(
    raw: object, path: str, issues: Issues
) -> tuple[dict[str, Any], float] | None:
    """The stored segmentation JSON and its area (RLE pixels, or the polygons' union area)."""
    if not isinstance(raw, dict):
        issues.add(path, "must be an object {rle} or {polygons}")
        return None
    rle_raw = raw.get("rle")
    polygons_raw = raw.get("polygons")
    if (rle_raw is None) == (polygons_raw is None):
        issues.add(path, "give exactly one of rle or polygons")
        return None
    if rle_raw is not None:
        return parse_rle(rle_raw, path + ".rle", issues)
    if not isinstance(polygons_raw, list) or not polygons_raw:
        issues.add(path + ".polygons", "must be a non-empty list of polygons")
        return None
    stored: list[dict[str, Any]] = []
    shapes: list[shapely.Polygon] = []
    before = len(issues)
    for i, polygon_raw in enumerate(polygons_raw):
        where = f"{path}.polygons[{i}]"
        rings = parse_rings(polygon_raw, where, issues)
        if rings is None:
            continue
        shape = shape_of(*rings)
        if check_shape(shape, where, issues):
            stored.append({"vertices": rings[0], "holes": rings[1]})
            shapes.append(shape)
    if len(issues) > before:
        return None
    area = float(shapely.union_all(shapes).area)
    return {"polygons": stored}, area
