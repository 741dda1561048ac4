"""One geometry per annotation: picks the family that was given and normalises it.

Stored JSON by ``type`` is described in notes/SERVICES_API.md; no geometry at all is a CATEGORY
(a classification of the whole item).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sliceboard.services.validation.box import parse_box
from sliceboard.services.validation.cuboid import parse_cuboid
from sliceboard.services.validation.issues import Issues
from sliceboard.services.validation.keypoints import parse_keypoints
from sliceboard.services.validation.polygon import parse_polygon, parse_polyline
from sliceboard.services.validation.segmentation import parse_segmentation

Parser = Callable[[object, str, Issues], "tuple[dict[str, Any], float | None] | None"]

# input field (also its name in issue paths), stored type, parser
FAMILIES: tuple[tuple[str, str, Parser], ...] = (
    ("box", "BOX", parse_box),
    ("polygon", "POLYGON", parse_polygon),
    ("polyline", "POLYLINE", parse_polyline),
    ("keypoints", "KEYPOINTS", parse_keypoints),
    ("segmentation", "SEGMENTATION", parse_segmentation),
    ("cuboid", "CUBOID", parse_cuboid),
)
CATEGORY = "CATEGORY"


def parse_geometry(
    row: dict[str, Any], path: str, issues: Issues
) -> tuple[str, dict[str, Any] | None, float | None] | None:
    """``(type, stored geometry, own area)`` of a row, or None after recording issues."""
    box = row.get("box")
    if (
        box is not None
        and row.get("polygon") is None
        and row.get("polyline") is None
        and row.get("keypoints") is None
        and row.get("segmentation") is None
        and row.get("cuboid") is None
    ):
        # The hot path of every detection upload: skip the family scan.
        parsed = parse_box(box, path + ".box", issues)
        return None if parsed is None else ("BOX", parsed[0], parsed[1])
    given = [family for family in FAMILIES if row.get(family[0]) is not None]
    if not given:
        return CATEGORY, None, None
    if len(given) > 1:
        names = ", ".join(name for name, _, _ in given)
        issues.add(path, f"give at most one geometry (got {names})")
        return None
    name, kind, parser = given[0]
    result = parser(row[name], f"{path}.{name}", issues)
    if result is None:
        return None
    return kind, result[0], result[1]
