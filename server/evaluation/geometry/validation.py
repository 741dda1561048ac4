"""Field checks for geometry input: each returns a message for the user, or None.

Upload services call these per field to build typed, field-level errors
(``annotations[17].segmentation.rle.counts: ...``) before anything reaches the
kernels. They are pure and cheap, and accept exactly what the kernels accept:
an input that passes here never makes a kernel raise. Self-intersecting
polygons pass (they are repaired, see ``polygons``); ``polygon_needs_repair``
lets a caller warn about them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from sliceboard.evaluation.geometry.polygons import polygon_is_valid
from sliceboard.evaluation.geometry.rle import rle_problem
from sliceboard.evaluation.geometry.rle_codec import decode_strings

_MAX_PIXELS = (1 << 32) - 1  # pycocotools' run lengths are uint32


def _finite(values: ArrayLike) -> bool:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return bool(np.isfinite(arr).all())


def validate_size(size: Sequence[int]) -> str | None:
    """COCO ``size`` = [height, width]: two positive integers with h*w < 2**32."""
    if len(size) != 2:
        return "size must be [height, width]"
    h, w = size
    if not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in (h, w)):
        return "size must hold two integers"
    if h <= 0 or w <= 0:
        return "height and width must be positive"
    if int(h) * int(w) > _MAX_PIXELS:
        return "the mask has more than 2**32 - 1 pixels"
    return None


def validate_rle(counts: str | bytes | Sequence[int], size: Sequence[int]) -> str | None:
    """A COCO RLE: compressed ``counts`` string or uncompressed run list, and its size."""
    problem = validate_size(size)
    if problem:
        return problem
    h, w = int(size[0]), int(size[1])
    if isinstance(counts, str | bytes):
        try:
            runs, _ = decode_strings([counts])
        except ValueError as err:
            return str(err).replace("RLE string 0: ", "counts: ")
    else:
        if not all(isinstance(c, int | np.integer) and not isinstance(c, bool) for c in counts):
            return "counts must be integers"
        runs = np.asarray(counts, dtype=np.int64) if len(counts) else np.zeros(0, np.int64)
        if runs.size and runs.max() > _MAX_PIXELS:
            return "run lengths must be below 2**32"
    return rle_problem(runs, h, w)


def validate_coco_polygon(parts: Sequence[Sequence[float]]) -> str | None:
    """A COCO polygon segmentation: parts of flat [x1, y1, x2, y2, ...] with >= 3 points."""
    if len(parts) == 0:
        return "a polygon segmentation needs at least one part"
    for j, part in enumerate(parts):
        if len(part) % 2:
            return f"part {j}: an odd number of coordinates"
        if len(part) < 6:
            return f"part {j}: a polygon needs at least 3 points"
        if not _finite(part):
            return f"part {j}: coordinates must be finite numbers"
    return None


def validate_polygon(vertices: ArrayLike, holes: Sequence[ArrayLike] = ()) -> str | None:
    """A polygon of vertices (k, 2) with optional hole rings: >= 3 finite points each."""
    rings = [("vertices", vertices)] + [(f"holes[{i}]", h) for i, h in enumerate(holes)]
    for name, ring in rings:
        if not _finite(ring):
            return f"{name}: coordinates must be finite numbers"
        arr = np.asarray(ring, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != 2:
            return f"{name}: expected a list of (x, y) points"
        if arr.shape[0] < 3:
            return f"{name}: a ring needs at least 3 points"
    return None


def polygon_needs_repair(vertices: ArrayLike, holes: Sequence[ArrayLike] = ()) -> bool:
    """Whether a polygon that passes ``validate_polygon`` is invalid as drawn (and so repaired)."""
    return not polygon_is_valid(vertices, holes)


def validate_polyline(vertices: ArrayLike) -> str | None:
    """An open polyline: at least 2 finite (x, y) points."""
    if not _finite(vertices):
        return "coordinates must be finite numbers"
    arr = np.asarray(vertices, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        return "expected a list of (x, y) points"
    if arr.shape[0] < 2:
        return "a polyline needs at least 2 points"
    return None


def validate_box(
    x: float, y: float, width: float, height: float, rotation: float = 0.0
) -> str | None:
    """A (possibly rotated) box: finite numbers, non-negative width and height."""
    if not all(math.isfinite(v) for v in (x, y, width, height, rotation)):
        return "box values must be finite numbers"
    if width < 0 or height < 0:
        return "width and height must not be negative"
    return None


def validate_cuboid(
    position: Sequence[float], dimensions: Sequence[float], yaw: float
) -> str | None:
    """A cuboid: 3 finite position values, 3 non-negative dimensions, a finite yaw."""
    if len(position) != 3 or len(dimensions) != 3:
        return "position and dimensions need x, y and z"
    if not (_finite(position) and _finite(dimensions) and math.isfinite(yaw)):
        return "cuboid values must be finite numbers"
    if min(dimensions) < 0:
        return "dimensions must not be negative"
    return None


def validate_keypoints(flat: Sequence[float], expected: int | None = None) -> str | None:
    """COCO keypoints [x1, y1, v1, ...]: triples, finite, v in {0, 1, 2}, optional count."""
    if len(flat) % 3:
        return "keypoints must be (x, y, visibility) triples"
    if not _finite(flat):
        return "keypoint values must be finite numbers"
    k = len(flat) // 3
    if expected is not None and k != expected:
        return f"expected {expected} keypoints, got {k}"
    if any(v not in (0, 1, 2) for v in list(flat)[2::3]):
        return "visibility must be 0, 1 or 2"
    return None
