"""Keypoints: ``[x, y, visibility]`` with COCO's visibility 0 (not labelled), 1 (hidden), 2 (visible)."""

from __future__ import annotations

from typing import Any

from sliceboard.clean_text import text_problem
from sliceboard.services.validation.fields import LABEL_MAX, check_coordinate
from sliceboard.services.validation.issues import Issues


def _parse_point(raw: object, path: str, issues: Issues) -> tuple[list[float], str | None] | None:
    if not isinstance(raw, dict):
        issues.add(path, "must be a keypoint {x, y, visibility, name}")
        return None
    before = len(issues)
    x = check_coordinate(raw.get("x"), path + ".x", issues)
    y = check_coordinate(raw.get("y"), path + ".y", issues)
    visibility = raw.get("visibility")
    if type(visibility) is not int or not 0 <= visibility <= 2:
        issues.add(path + ".visibility", "must be 0, 1 or 2")
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > LABEL_MAX):
        issues.add(path + ".name", f"must be a string of at most {LABEL_MAX} characters")
    elif name is not None:
        problem = text_problem(name)
        if problem is not None:
            issues.add(path + ".name", problem)
    if len(issues) > before:
        return None
    assert x is not None and y is not None and isinstance(visibility, int)
    return [x, y, visibility], name


def _parse_skeleton(raw: object, path: str, issues: Issues, count: int) -> list[list[int]] | None:
    if not isinstance(raw, list):
        issues.add(path, "must be a list of [i, j] point index pairs")
        return None
    edges: list[list[int]] = []
    for i, edge in enumerate(raw):
        where = f"{path}[{i}]"
        if not isinstance(edge, list) or len(edge) != 2 or any(type(v) is not int for v in edge):
            issues.add(where, "must be a pair of point indexes [i, j]")
        elif not all(0 <= v < count for v in edge):
            issues.add(where, f"point indexes must be between 0 and {count - 1}")
        else:
            edges.append([edge[0], edge[1]])
    return edges


def parse_keypoints(raw: object, path: str, issues: Issues) -> tuple[dict[str, Any], float] | None:
    """The stored keypoints JSON and the area of the visible points' bounding extent."""
    if not isinstance(raw, dict):
        issues.add(path, "must be an object {points, skeleton}")
        return None
    points_raw = raw.get("points")
    if not isinstance(points_raw, list) or not points_raw:
        issues.add(path + ".points", "must be a non-empty list of keypoints")
        return None
    before = len(issues)
    points: list[list[float]] = []
    names: list[str | None] = []
    for i, point_raw in enumerate(points_raw):
        parsed = _parse_point(point_raw, f"{path}.points[{i}]", issues)
        if parsed is not None:
            points.append(parsed[0])
            names.append(parsed[1])
    skeleton_raw = raw.get("skeleton")
    skeleton = (
        None
        if skeleton_raw is None
        else _parse_skeleton(skeleton_raw, path + ".skeleton", issues, len(points_raw))
    )
    if len(issues) > before:
        return None
    visible = [p for p in points if p[2] > 0]
    area = 0.0
    if visible:
        xs = [p[0] for p in visible]
        ys = [p[1] for p in visible]
        area = (max(xs) - min(xs)) * (max(ys) - min(ys))
    return {"points": points, "names": names, "skeleton": skeleton}, area
