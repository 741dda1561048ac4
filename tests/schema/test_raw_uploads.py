"""The upload fields skip strawberry's input conversion; what the services receive must be
exactly what the strawberry path would have handed them."""

from __future__ import annotations

from typing import Any

from graphql import coerce_input_value

from sliceboard.schema.convert import to_plain_list
from sliceboard.schema.inputs import PredictionInput
from sliceboard.schema.raw_uploads import converter
from sliceboard.schema.schema import build_schema

ROW: dict[str, Any] = {
    "referenceId": "img1",
    "annotationId": "p1",
    "label": "car",
    "metadata": {"camelKey": {"innerKey": [1, 2]}},
    "classPdf": {"car": 0.75, "bus": 0.25},
    "customMetrics": [{"name": "iou", "value": 0.5}],
    "classifications": [{"name": "color", "value": "red"}],
    "segmentation": {"rle": {"counts": "PZ`0", "size": [4, 5]}},
}


def test_raw_conversion_equals_the_strawberry_path_without_unset_fields() -> None:
    schema = build_schema()
    field = schema._schema.mutation_type.fields["upsertPredictions"]  # type: ignore[union-attr]
    coerced = coerce_input_value([ROW], field.args["predictions"].type)
    convert = converter(field.args["predictions"].type)
    assert convert is not None
    raw = convert(coerced)

    strawberry_rows = to_plain_list(
        [
            PredictionInput(  # type: ignore[call-arg]
                reference_id="img1",
                annotation_id="p1",
                label="car",
                metadata=ROW["metadata"],
                class_pdf=ROW["classPdf"],
                custom_metrics=[_metric("iou", 0.5)],
                classifications=[_classification("color", "red")],
                segmentation=_rle_segmentation(),
            )
        ]
    )
    expected = {k: v for k, v in strawberry_rows[0].items() if v is not None}
    expected["segmentation"] = {"rle": {"counts": "PZ`0", "size": [4, 5]}}
    assert raw == [expected]
    assert raw[0]["metadata"] == {"camelKey": {"innerKey": [1, 2]}}  # JSON stays as sent


def _metric(name: str, value: float) -> Any:
    from sliceboard.schema.inputs import MetricValueInput

    return MetricValueInput(name=name, value=value)


def _classification(name: str, value: str) -> Any:
    from sliceboard.schema.inputs import ClassificationInput

    return ClassificationInput(name=name, value=value)


def _rle_segmentation() -> Any:
    from sliceboard.schema.inputs import RleInput, SegmentationInput

    return SegmentationInput(rle=RleInput(counts="PZ`0", size=[4, 5]))  # type: ignore[call-arg,arg-type]
