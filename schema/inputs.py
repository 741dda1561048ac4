"""Upload and create inputs (contract names). Unset optional fields stay UNSET, so the SDL shows
no invented defaults; ``schema/convert.py`` turns them into the plain dicts services take."""

from __future__ import annotations

import strawberry
from strawberry.file_uploads import Upload

from sliceboard.schema.filters import ItemFilter
from sliceboard.schema.scalars import JSON


@strawberry.input
class PointInput:
    x: float
    y: float


@strawberry.input
class Point3DInput:
    x: float
    y: float
    z: float


@strawberry.input
class BoxInput:
    x: float
    y: float
    width: float
    height: float
    rotation: float | None = 0.0


@strawberry.input
class PolygonInput:
    vertices: list[PointInput]
    holes: list[list[PointInput]] | None = strawberry.UNSET


@strawberry.input
class PolylineInput:
    vertices: list[PointInput]


@strawberry.input
class KeypointInput:
    x: float
    y: float
    visibility: int
    name: str | None = strawberry.UNSET


@strawberry.input
class KeypointsInput:
    points: list[KeypointInput]
    skeleton: list[list[int]] | None = strawberry.UNSET


@strawberry.input(
    description="COCO RLE: counts is the compressed string or the list of run lengths; size = [height, width]."
)
class RleInput:
    counts: JSON
    size: list[int]


@strawberry.input(description="Exactly one of rle or polygons.")
class SegmentationInput:
    rle: RleInput | None = strawberry.UNSET
    polygons: list[PolygonInput] | None = strawberry.UNSET


@strawberry.input(
    description="One segment of a semantic mask: the pixels of one index, and their label."
)
class SegmentInput:
    index: int
    label: str
    metadata: JSON | None = strawberry.UNSET


@strawberry.input(
    description=(
        "A semantic index mask (8- or 16-bit single-channel PNG, the item's size) and the label of "
        "each index. Exactly one of maskUrl (http(s), or file:// under the server's media root) "
        "or mask (a file part of a GraphQL multipart request)."
    )
)
class SemanticSegmentationInput:
    segments: list[SegmentInput]
    mask_url: str | None = strawberry.UNSET
    mask: Upload | None = strawberry.UNSET


@strawberry.input
class CuboidInput:
    position: Point3DInput
    dimensions: Point3DInput
    yaw: float


@strawberry.input(description="A nested classification of an annotation, e.g. color = orange.")
class ClassificationInput:
    name: str
    value: str


@strawberry.input
class MetricValueInput:
    name: str
    value: float


@strawberry.input
class ItemInput:
    reference_id: str
    url: str | None = strawberry.UNSET
    width: int | None = strawberry.UNSET
    height: int | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET


@strawberry.input(
    description="One geometry field at most; none of them makes a category (classification) label."
)
class AnnotationInput:
    reference_id: str
    annotation_id: str
    label: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Required but for semanticSegmentation (its segments carry the labels).",
    )
    metadata: JSON | None = strawberry.UNSET
    iscrowd: bool | None = False
    area: float | None = strawberry.UNSET
    classifications: list[ClassificationInput] | None = strawberry.UNSET
    box: BoxInput | None = strawberry.UNSET
    polygon: PolygonInput | None = strawberry.UNSET
    polyline: PolylineInput | None = strawberry.UNSET
    keypoints: KeypointsInput | None = strawberry.UNSET
    segmentation: SegmentationInput | None = strawberry.UNSET
    cuboid: CuboidInput | None = strawberry.UNSET
    semantic_segmentation: SemanticSegmentationInput | None = strawberry.UNSET


@strawberry.input
class PredictionInput:
    reference_id: str
    annotation_id: str
    label: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Required but for semanticSegmentation (its segments carry the labels).",
    )
    metadata: JSON | None = strawberry.UNSET
    area: float | None = strawberry.UNSET
    classifications: list[ClassificationInput] | None = strawberry.UNSET
    box: BoxInput | None = strawberry.UNSET
    polygon: PolygonInput | None = strawberry.UNSET
    polyline: PolylineInput | None = strawberry.UNSET
    keypoints: KeypointsInput | None = strawberry.UNSET
    segmentation: SegmentationInput | None = strawberry.UNSET
    cuboid: CuboidInput | None = strawberry.UNSET
    semantic_segmentation: SemanticSegmentationInput | None = strawberry.UNSET
    confidence: float | None = strawberry.UNSET
    class_pdf: JSON | None = strawberry.UNSET
    custom_metrics: list[MetricValueInput] | None = strawberry.UNSET


@strawberry.input
class CreateDatasetInput:
    name: str
    metadata: JSON | None = strawberry.UNSET
    segmentation_ignore_index: int | None = strawberry.field(
        default=0,
        description="The semantic-mask index meaning unlabelled (excluded from the metrics); fixed.",
    )


@strawberry.input
class CreateModelInput:
    name: str
    reference_id: str
    metadata: JSON | None = strawberry.UNSET


@strawberry.input
class CreateModelRunInput:
    model_id: strawberry.ID
    dataset_id: strawberry.ID
    name: str


@strawberry.input(
    description="A saved filter (dynamic), a fixed list of referenceIds, or both (items must satisfy both)."
)
class CreateSliceInput:
    dataset_id: strawberry.ID
    name: str
    filter: ItemFilter | None = strawberry.UNSET
    reference_ids: list[str] | None = strawberry.UNSET
