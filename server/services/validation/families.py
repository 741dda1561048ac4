"""The geometry families, one record each: the registry that upload validation, evaluation
and the GraphQL layer read, so a new family is one record here plus its own parser, kernel
builder and GraphQL types.

    type          field          parser               evaluated as   kernel
    BOX           box            parse_box            bbox           box_kernel (unrotated)
    POLYGON       polygon        parse_polygon        polygon        polygon_kernel
    POLYLINE      polyline       parse_polyline       polyline       polyline_kernel
    KEYPOINTS     keypoints      parse_keypoints      keypoints      keypoint_kernel
    SEGMENTATION  segmentation   parse_segmentation   segm           mask_kernel
    CUBOID        cuboid         parse_cuboid         cuboid         cuboid_kernel
    CATEGORY      (no geometry)                       category       category_kernel
    SEMANTIC      semantic_segmentation  parse_semantic  semantic    (none: pixel and segment
                                                                      metrics, evaluation/semantic)

``type`` is the stored type and the GraphQL ``GeometryType``; ``field`` is the upload input
field (and its name in issue paths). Rotated boxes, and boxes mixed with polygons, are
evaluated by their ``general`` family (POLYGON).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sliceboard.services.evaluation.kernels import (
    KernelBuilder,
    box_kernel,
    category_kernel,
    cuboid_kernel,
    keypoint_kernel,
    mask_kernel,
    polygon_kernel,
    polyline_kernel,
    semantic_kernel,
    unrotated,
)
from sliceboard.services.validation.box import parse_box
from sliceboard.services.validation.cuboid import parse_cuboid
from sliceboard.services.validation.issues import Issues
from sliceboard.services.validation.keypoints import parse_keypoints
from sliceboard.services.validation.polygon import parse_polygon, parse_polyline
from sliceboard.services.validation.segmentation import parse_segmentation
from sliceboard.services.validation.semantic import parse_semantic
from sliceboard.storage.evaluation_data import ObjectRows

#: (input value, issue path, issues) -> (stored geometry, own area), or None after an issue.
Parser = Callable[[object, str, Issues], "tuple[dict[str, Any], float | None] | None"]


def _always(rows: ObjectRows) -> bool:
    return True


@dataclass(frozen=True)
class GeometryFamily:
    type: str
    field: str | None  # None: no geometry (CATEGORY)
    parse: Parser | None
    evaluated_as: str  # the evaluation family, stored with each evaluation's snapshot
    kind: str  # COCO summary flavour: bbox | segm | keypoints
    kernel: KernelBuilder
    #: Whether rows of this family alone can use ``kernel`` (else ``general`` evaluates them).
    fits: Callable[[ObjectRows], bool] = _always
    #: The type whose family evaluates this one when it does not fit or is mixed with it.
    general: str | None = None


FAMILIES: tuple[GeometryFamily, ...] = (
    GeometryFamily(
        "BOX", "box", parse_box, "bbox", "bbox", box_kernel, fits=unrotated, general="POLYGON"
    ),
    GeometryFamily("POLYGON", "polygon", parse_polygon, "polygon", "bbox", polygon_kernel),
    GeometryFamily("POLYLINE", "polyline", parse_polyline, "polyline", "bbox", polyline_kernel),
    GeometryFamily(
        "KEYPOINTS", "keypoints", parse_keypoints, "keypoints", "keypoints", keypoint_kernel
    ),
    GeometryFamily("SEGMENTATION", "segmentation", parse_segmentation, "segm", "segm", mask_kernel),
    GeometryFamily("CUBOID", "cuboid", parse_cuboid, "cuboid", "bbox", cuboid_kernel),
    GeometryFamily("CATEGORY", None, None, "category", "bbox", category_kernel),
    GeometryFamily(
        "SEMANTIC", "semantic_segmentation", parse_semantic, "semantic", "semantic", semantic_kernel
    ),
)
#: Semantic masks are no instances: the instance evaluation never sees them.
SEMANTIC = "SEMANTIC"
BY_TYPE: dict[str, GeometryFamily] = {family.type: family for family in FAMILIES}
CATEGORY = BY_TYPE["CATEGORY"]
#: The families an upload gives as an input field, as (field, type, parser).
UPLOAD_FIELDS: tuple[tuple[str, str, Parser], ...] = tuple(
    (family.field, family.type, family.parse)
    for family in FAMILIES
    if family.field is not None and family.parse is not None
)
