"""One geometry per annotation: picks the family that was given and normalises it.

The families, their input fields and stored types are the registry's
(``sliceboard.services.validation.families``); no geometry at all is a CATEGORY (a
classification of the whole item).
"""

from __future__ import annotations

from typing import Any

from sliceboard.services.validation.box import parse_box
from sliceboard.services.validation.families import CATEGORY, UPLOAD_FIELDS
from sliceboard.services.validation.issues import Issues


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
        and row.get("semantic_segmentation") is None
    ):
        # The hot path of every detection upload: skip the family scan. A new family's field
        # belongs in this test too (tests/services/test_geometry_families.py checks it).
        parsed = parse_box(box, path + ".box", issues)
        return None if parsed is None else ("BOX", parsed[0], parsed[1])
    given = [family for family in UPLOAD_FIELDS if row.get(family[0]) is not None]
    if not given:
        return CATEGORY.type, None, None
    if len(given) > 1:
        names = ", ".join(name for name, _, _ in given)
        issues.add(path, f"give at most one geometry (got {names})")
        return None
    name, kind, parser = given[0]
    result = parser(row[name], f"{path}.{_camel(name)}", issues)
    if result is None:
        return None
    return kind, result[0], result[1]


def _camel(name: str) -> str:
    """The input field's GraphQL name, as issue paths say it (``semanticSegmentation``)."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)
