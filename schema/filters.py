"""``ItemFilter`` input; its dict form uses the GraphQL names (see server/storage/filters.py for
the semantics), so a saved slice's ``filter`` reads back as valid ItemFilter input."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry

from sliceboard.schema.convert import given
from sliceboard.schema.scalars import JSON


@strawberry.enum
class FilterOp(Enum):
    EQ = "EQ"
    NE = "NE"
    IN = "IN"
    NOT_IN = "NOT_IN"
    GT = "GT"
    GTE = "GTE"
    LT = "LT"
    LTE = "LTE"
    CONTAINS = "CONTAINS"
    EXISTS = "EXISTS"


@strawberry.input(
    description="field: a dotted path into the item's metadata, e.g. `camera.location`."
)
class MetadataCondition:
    field: str
    op: FilterOp
    value: JSON | None = strawberry.UNSET


@strawberry.input(
    description="The conditions set in one object are ANDed; `and: []` matches all, `or: []` none."
)
class ItemFilter:
    and_: list[ItemFilter] | None = strawberry.field(name="and", default=strawberry.UNSET)
    or_: list[ItemFilter] | None = strawberry.field(name="or", default=strawberry.UNSET)
    not_: ItemFilter | None = strawberry.field(name="not", default=strawberry.UNSET)
    metadata: MetadataCondition | None = strawberry.UNSET
    reference_ids: list[str] | None = strawberry.UNSET
    has_annotation_label: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Items with a ground truth of any of these labels."
    )
    has_prediction_label: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "Items with a prediction of any of these labels: of the run queried (ModelRun fields), "
            "of any run on the dataset elsewhere (Dataset.items, saved slices)."
        ),
    )


def filter_to_dict(value: ItemFilter | None) -> dict[str, Any] | None:
    """The plain-dict filter the storage layer compiles (unset keys left out)."""
    if not given(value):
        return None
    assert value is not None
    out: dict[str, Any] = {}
    if given(value.and_):
        out["and"] = [filter_to_dict(child) for child in value.and_ or []]
    if given(value.or_):
        out["or"] = [filter_to_dict(child) for child in value.or_ or []]
    if given(value.not_):
        out["not"] = filter_to_dict(value.not_)
    if given(value.metadata):
        condition = value.metadata
        assert condition is not None
        out["metadata"] = {"field": condition.field, "op": condition.op.value}
        if condition.value is not strawberry.UNSET:
            out["metadata"]["value"] = condition.value
    for key, raw in (
        ("referenceIds", value.reference_ids),
        ("hasAnnotationLabel", value.has_annotation_label),
        ("hasPredictionLabel", value.has_prediction_label),
    ):
        if given(raw):
            out[key] = list(raw or [])
    return out
