"""Boxes: top-left x, y, positive width and height, optional rotation (radians CCW about the centre).

Coordinates and sizes stay within ``SLICEBOARD_MAX_COORDINATE``, the rotation within
``SLICEBOARD_MAX_ROTATION`` radians: beyond them areas overflow and angles lose their precision.
"""

from __future__ import annotations

import math
from typing import Any

from sliceboard.input_limits import input_limits
from sliceboard.services.validation.fields import check_angle, check_coordinate, check_extent
from sliceboard.services.validation.issues import Issues

_NUMBERS = (float, int)


def parse_box(raw: object, path: str, issues: Issues) -> tuple[dict[str, Any], float] | None:
    """The stored box JSON and its area (width * height; rotation does not change it)."""
    if type(raw) is dict:
        x, y = raw.get("x"), raw.get("y")
        width, height = raw.get("width"), raw.get("height")
        rotation = raw.get("rotation")
        if rotation is None:
            rotation = 0.0
        if (
            type(x) in _NUMBERS
            and type(y) in _NUMBERS
            and type(width) in _NUMBERS
            and type(height) in _NUMBERS
            and type(rotation) in _NUMBERS
        ):
            # The common case in one test: NaN fails every comparison and infinity every bound,
            # and then the field-by-field checks below name the culprit.
            x, y, width, height = float(x), float(y), float(width), float(height)  # type: ignore[arg-type]
            rotation = float(rotation)  # type: ignore[arg-type]
            area = width * height
            limits = input_limits()
            bound = limits.coordinate
            if (
                0 < width <= bound
                and 0 < height <= bound
                and abs(x) <= bound
                and abs(y) <= bound
                and abs(rotation) <= limits.rotation
                and math.isfinite(area)
            ):
                geometry = {"x": x, "y": y, "width": width, "height": height, "rotation": rotation}
                return geometry, area
    return _parse_box_checked(raw, path, issues)


def _parse_box_checked(
    raw: object, path: str, issues: Issues
) -> tuple[dict[str, Any], float] | None:
    if not isinstance(raw, dict):
        issues.add(path, "must be an object {x, y, width, height, rotation}")
        return None
    before = len(issues)
    x = check_coordinate(raw.get("x"), path + ".x", issues)
    y = check_coordinate(raw.get("y"), path + ".y", issues)
    width = check_extent(raw.get("width"), path + ".width", issues)
    height = check_extent(raw.get("height"), path + ".height", issues)
    rotation_raw = raw.get("rotation")
    rotation = (
        0.0 if rotation_raw is None else check_angle(rotation_raw, path + ".rotation", issues)
    )
    if len(issues) > before:
        return None
    assert width is not None and height is not None
    geometry = {"x": x, "y": y, "width": width, "height": height, "rotation": rotation}
    return geometry, width * height
