"""Lists of 2-D points ``[{x, y}]`` turned into ``[[x, y], ...]``, the stored form."""

from __future__ import annotations

from sliceboard.services.validation.fields import check_coordinate
from sliceboard.services.validation.issues import Issues


def parse_points(
    raw: object, path: str, issues: Issues, *, minimum: int
) -> list[list[float]] | None:
    """At least ``minimum`` points with coordinates within ``SLICEBOARD_MAX_COORDINATE``."""
    if not isinstance(raw, list):
        issues.add(path, "must be a list of points {x, y}")
        return None
    if len(raw) < minimum:
        issues.add(path, f"needs at least {minimum} points (got {len(raw)})")
        return None
    before = len(issues)
    out: list[list[float]] = []
    for i, point in enumerate(raw):
        if not isinstance(point, dict):
            issues.add(f"{path}[{i}]", "must be a point {x, y}")
            continue
        x = check_coordinate(point.get("x"), f"{path}[{i}].x", issues)
        y = check_coordinate(point.get("y"), f"{path}[{i}].y", issues)
        if x is not None and y is not None:
            out.append([x, y])
    return out if len(issues) == before else None
