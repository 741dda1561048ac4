"""Stored geometry JSON back to the upload input shape (NDJSON) and to COCO's fields."""

from __future__ import annotations

from typing import Any


def _points(points: list[list[float]]) -> list[dict[str, float]]:
    return [{"x": p[0], "y": p[1]} for p in points]


def _ring(value: dict[str, Any]) -> dict[str, Any]:
    ring: dict[str, Any] = {"vertices": _points(value["vertices"])}
    if value.get("holes"):
        ring["holes"] = [_points(hole) for hole in value["holes"]]
    return ring


def to_input(kind: str, geometry: dict[str, Any] | None) -> tuple[str, Any] | None:
    """(input field, value) of a stored geometry; None for a CATEGORY (no geometry)."""
    if geometry is None or kind == "CATEGORY":
        return None
    if kind == "BOX":
        return "box", dict(geometry)
    if kind in ("POLYGON", "POLYLINE"):
        value = _ring(geometry)
        return kind.lower(), value if kind == "POLYGON" else {"vertices": value["vertices"]}
    if kind == "KEYPOINTS":
        names = geometry.get("names") or []
        points = []
        for k, (x, y, v) in enumerate(geometry["points"]):
            point: dict[str, Any] = {"x": x, "y": y, "visibility": int(v)}
            if k < len(names) and names[k] is not None:
                point["name"] = names[k]
            points.append(point)
        value = {"points": points}
        if geometry.get("skeleton"):
            value["skeleton"] = geometry["skeleton"]
        return "keypoints", value
    if kind == "SEGMENTATION":
        if "rle" in geometry:
            return "segmentation", {"rle": dict(geometry["rle"])}
        return "segmentation", {"polygons": [_ring(p) for p in geometry["polygons"]]}
    if kind == "CUBOID":
        axes = ("x", "y", "z")
        return "cuboid", {
            "position": dict(zip(axes, geometry["position"], strict=True)),
            "dimensions": dict(zip(axes, geometry["dimensions"], strict=True)),
            "yaw": geometry["yaw"],
        }
    return kind.lower(), geometry


def to_coco(kind: str, geometry: dict[str, Any] | None) -> dict[str, Any]:
    """The COCO fields of a stored geometry: bbox, segmentation or keypoints (+ bbox)."""
    if geometry is None:
        return {}
    if kind == "BOX":
        return {"bbox": [geometry["x"], geometry["y"], geometry["width"], geometry["height"]]}
    if kind == "KEYPOINTS":
        flat: list[float] = []
        for x, y, v in geometry["points"]:
            flat.extend((x, y, int(v)))
        return {"keypoints": flat, "num_keypoints": sum(1 for p in geometry["points"] if p[2] > 0)}
    if kind == "SEGMENTATION" and "rle" in geometry:
        return {"segmentation": dict(geometry["rle"])}
    rings = geometry["polygons"] if kind == "SEGMENTATION" else [geometry]
    if kind in ("SEGMENTATION", "POLYGON"):
        polygons = [[c for point in ring["vertices"] for c in point] for ring in rings]
        xs = [point[0] for ring in rings for point in ring["vertices"]]
        ys = [point[1] for ring in rings for point in ring["vertices"]]
        bbox = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
        return {"segmentation": polygons, "bbox": bbox}
    return {}
