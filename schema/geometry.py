"""Geometry output types, built from the stored geometry JSON of each type code of the geometry
family registry (``sliceboard.services.validation.families``)."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any

import strawberry

from sliceboard.schema.scalars import JSON, json_value


@strawberry.enum
class GeometryType(Enum):
    BOX = "BOX"
    POLYGON = "POLYGON"
    POLYLINE = "POLYLINE"
    KEYPOINTS = "KEYPOINTS"
    SEGMENTATION = "SEGMENTATION"
    CUBOID = "CUBOID"
    CATEGORY = "CATEGORY"
    SEMANTIC_SEGMENTATION = "SEMANTIC"


@strawberry.type
class Point:
    x: float
    y: float


@strawberry.type
class Point3D:
    x: float
    y: float
    z: float


@strawberry.type(
    description="x, y: top-left of the unrotated box; rotation: radians counter-clockwise about its centre."
)
class Box:
    x: float
    y: float
    width: float
    height: float
    rotation: float


@strawberry.type
class Polygon:
    vertices: list[Point]
    holes: list[list[Point]]


@strawberry.type
class Polyline:
    vertices: list[Point]


@strawberry.type(
    description="visibility as COCO: 0 not labelled, 1 labelled but hidden, 2 visible."
)
class Keypoint:
    x: float
    y: float
    visibility: int
    name: str | None


@strawberry.type
class Keypoints:
    points: list[Keypoint]
    skeleton: list[list[int]] | None


@strawberry.type(description="COCO compressed RLE; size is [height, width].")
class Rle:
    counts: str
    size: list[int]


@strawberry.type
class Segmentation:
    rle: Rle | None
    polygons: list[Polygon] | None


@strawberry.type(description="One index of a semantic mask and its label.")
class Segment:
    index: int
    label: str
    metadata: JSON | None


@strawberry.type(
    description="A semantic index mask, stored once by the digest of its pixels, and its segments."
)
class SemanticSegmentation:
    mask_digest: str
    height: int
    width: int
    mask_url: str | None
    segments: list[Segment]


@strawberry.type
class Cuboid:
    position: Point3D
    dimensions: Point3D
    yaw: float


Geometry = Annotated[
    Box | Polygon | Polyline | Keypoints | Segmentation | Cuboid | SemanticSegmentation,
    strawberry.union("Geometry"),
]


def _points(pairs: list[list[float]]) -> list[Point]:
    return [Point(x=float(p[0]), y=float(p[1])) for p in pairs]


def _polygon(data: dict[str, Any]) -> Polygon:
    return Polygon(
        vertices=_points(data["vertices"]), holes=[_points(h) for h in data.get("holes") or []]
    )


def _point3d(values: list[float]) -> Point3D:
    return Point3D(x=float(values[0]), y=float(values[1]), z=float(values[2]))


def _box(data: dict[str, Any]) -> Box:
    return Box(
        x=float(data["x"]),
        y=float(data["y"]),
        width=float(data["width"]),
        height=float(data["height"]),
        rotation=float(data.get("rotation") or 0.0),
    )


def _polyline(data: dict[str, Any]) -> Polyline:
    return Polyline(vertices=_points(data["vertices"]))


def _keypoints(data: dict[str, Any]) -> Keypoints:
    names = data.get("names") or []
    points = [
        Keypoint(
            x=float(p[0]),
            y=float(p[1]),
            visibility=int(p[2]),
            name=names[i] if i < len(names) else None,
        )
        for i, p in enumerate(data["points"])
    ]
    skeleton = data.get("skeleton")
    return Keypoints(
        points=points,
        skeleton=[list(map(int, e)) for e in skeleton] if skeleton is not None else None,
    )


def _segmentation(data: dict[str, Any]) -> Segmentation:
    rle = data.get("rle")
    polygons = data.get("polygons")
    return Segmentation(
        rle=Rle(counts=str(rle["counts"]), size=[int(v) for v in rle["size"]]) if rle else None,
        polygons=[_polygon(p) for p in polygons] if polygons is not None else None,
    )


def _cuboid(data: dict[str, Any]) -> Cuboid:
    return Cuboid(
        position=_point3d(data["position"]),
        dimensions=_point3d(data["dimensions"]),
        yaw=float(data["yaw"]),
    )


def _semantic(data: dict[str, Any]) -> SemanticSegmentation:
    return SemanticSegmentation(
        mask_digest=str(data["mask"]),
        height=int(data["height"]),
        width=int(data["width"]),
        mask_url=data.get("maskUrl"),
        segments=[
            Segment(
                index=int(s["index"]),
                label=str(s["label"]),
                metadata=json_value(s["metadata"]) if s.get("metadata") is not None else None,
            )
            for s in data["segments"]
        ],
    )


GeometryOutput = Box | Polygon | Polyline | Keypoints | Segmentation | Cuboid | SemanticSegmentation
#: Output type by stored type code (every family of the registry but CATEGORY).
OUTPUTS: dict[str, Callable[[dict[str, Any]], GeometryOutput]] = {
    "BOX": _box,
    "POLYGON": _polygon,
    "POLYLINE": _polyline,
    "KEYPOINTS": _keypoints,
    "SEGMENTATION": _segmentation,
    "CUBOID": _cuboid,
    "SEMANTIC": _semantic,
}


def geometry_from_json(kind: str, data: dict[str, Any] | None) -> GeometryOutput | None:
    """The output type of one stored geometry; None for a CATEGORY (no geometry)."""
    if data is None or kind == "CATEGORY":
        return None
    output = OUTPUTS.get(kind)
    if output is None:
        raise ValueError(f"unknown geometry type {kind!r}")
    return output(data)
