"""Boxes: top-left x, y, positive width and height, optional rotation (radians CCW about the centre)."""

from __future__ import annotations

from typing import Any

from server.services.validation.fields import check_float, check_positive
from server.services.validation.issues import Issues


def parse_box(raw: object, path: str, issues: Issues) -> tuple[dict[str, Any], float] | None:
    """The stored box JSON and its area (width * height; rotation does not change it)."""
    if not isinstance(raw, dict):
        issues.add(path, "must be an object {x, y, width, height, rotation}")
        return None
    before = len(issues)
    x = check_float(raw.get("x"), path + ".x", issues)
    y = check_float(raw.get("y"), path + ".y", issues)
    width = check_positive(raw.get("width"), path + ".width", issues)
    height = check_positive(raw.get("height"), path + ".height", issues)
    rotation_raw = raw.get("rotation")
    rotation = (
        0.0 if rotation_raw is None else check_float(rotation_raw, path + ".rotation", issues)
    )
    if len(issues) > before:
        return None
    assert width is not None and height is not None
    geometry = {"x": x, "y": y, "width": width, "height": height, "rotation": rotation}
    return geometry, width * height
