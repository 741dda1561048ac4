"""3-D cuboids: centre position, positive dimensions, yaw (radians about z)."""

from __future__ import annotations

from typing import Any

from sliceboard.services.validation.fields import check_angle, check_coordinate, check_extent
from sliceboard.services.validation.issues import Issues


def _vector(raw: object, path: str, issues: Issues, *, positive: bool) -> list[float] | None:
    if not isinstance(raw, dict):
        issues.add(path, "must be a point {x, y, z}")
        return None
    check = check_extent if positive else check_coordinate
    before = len(issues)
    values = [check(raw.get(axis), f"{path}.{axis}", issues) for axis in ("x", "y", "z")]
    if len(issues) > before:
        return None
    return [v for v in values if v is not None]


def parse_cuboid(raw: object, path: str, issues: Issues) -> tuple[dict[str, Any], float] | None:
    """The stored cuboid JSON and its bird's-eye area dx * dy."""
    if not isinstance(raw, dict):
        issues.add(path, "must be an object {position, dimensions, yaw}")
        return None
    position = _vector(raw.get("position"), path + ".position", issues, positive=False)
    dimensions = _vector(raw.get("dimensions"), path + ".dimensions", issues, positive=True)
    yaw = check_angle(raw.get("yaw"), path + ".yaw", issues)
    if position is None or dimensions is None or yaw is None:
        return None
    return {"position": position, "dimensions": dimensions, "yaw": yaw}, dimensions[0] * dimensions[
        1
    ]
