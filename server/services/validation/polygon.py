"""Polygons (closed, with optional holes) and polylines (open).

An invalid polygon — self-intersecting, zero area, a hole outside its shell — is REJECTED with
shapely's explanation, never repaired: ``make_valid`` would silently change the shape (a bow-tie
becomes two triangles) and so the IoU the user is judged by. The user fixes it at the source.
"""

from __future__ import annotations

from typing import Any

import shapely

from sliceboard.services.validation.issues import Issues
from sliceboard.services.validation.points import parse_points


def parse_rings(
    raw: object, path: str, issues: Issues
) -> tuple[list[list[float]], list[list[list[float]]]] | None:
    """The shell and holes of a ``{vertices, holes}`` input, coordinates checked, shape not yet."""
    if not isinstance(raw, dict):
        issues.add(path, "must be an object {vertices, holes}")
        return None
    shell = parse_points(raw.get("vertices"), path + ".vertices", issues, minimum=3)
    holes_raw = raw.get("holes")
    holes: list[list[list[float]]] = []
    ok = shell is not None
    if holes_raw is not None:
        if not isinstance(holes_raw, list):
            issues.add(path + ".holes", "must be a list of point lists")
            return None
        for i, hole_raw in enumerate(holes_raw):
            hole = parse_points(hole_raw, f"{path}.holes[{i}]", issues, minimum=3)
            if hole is None:
                ok = False
            else:
                holes.append(hole)
    if not ok or shell is None:
        return None
    return shell, holes


def shape_of(shell: list[list[float]], holes: list[list[list[float]]]) -> shapely.Polygon:
    return shapely.Polygon(shell, holes)


def check_shape(shape: shapely.Polygon, path: str, issues: Issues) -> bool:
    """Records why a polygon is not a valid simple area, if it is not."""
    if shapely.is_valid(shape) and shape.area > 0:
        return True
    reason = shapely.is_valid_reason(shape)
    if reason == "Valid Geometry":
        reason = "zero area"
    issues.add(
        path, f"is not a valid polygon ({reason}); self-intersections are rejected, not repaired"
    )
    return False


def parse_polygon(raw: object, path: str, issues: Issues) -> tuple[dict[str, Any], float] | None:
    """The stored polygon JSON and its area (shell minus holes)."""
    rings = parse_rings(raw, path, issues)
    if rings is None:
        return None
    shell, holes = rings
    shape = shape_of(shell, holes)
    if not check_shape(shape, path, issues):
        return None
    return {"vertices": shell, "holes": holes}, float(shape.area)


def parse_polyline(raw: object, path: str, issues: Issues) -> tuple[dict[str, Any], None] | None:
    """An open line of at least two vertices; it has no area."""
    if not isinstance(raw, dict):
        issues.add(path, "must be an object {vertices}")
        return None
    vertices = parse_points(raw.get("vertices"), path + ".vertices", issues, minimum=2)
    if vertices is None:
        return None
    return {"vertices": vertices}, None
