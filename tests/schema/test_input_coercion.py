"""The precompiled batch coercer against graphql-core's own coercion, and the renamer against
strawberry's conversion.

Whatever the fast path returns must equal graphql-core's coerced value renamed by
``compile_renamer``; whatever graphql-core rejects, the fast path must not accept. The renamed
value must be what strawberry's own conversion (``to_plain``) would have handed a service.
"""

from __future__ import annotations

import math
from typing import Any, cast

import pytest
from graphql import GraphQLInputObjectType, GraphQLInputType, Undefined, coerce_input_value
from hypothesis import given, settings
from hypothesis import strategies as st

from sliceboard.schema.convert import to_plain_list
from sliceboard.schema.input_coercion import Unhandled, compile_coercer, compile_renamer
from sliceboard.schema.inputs import (
    ClassificationInput,
    MetricValueInput,
    PredictionInput,
    RleInput,
    SegmentationInput,
)
from sliceboard.schema.schema import build_schema
from sliceboard.schema.upload_hooks import graphql_core_schema
from tests.support.graphql import Executor

SCHEMA = graphql_core_schema(build_schema())
TYPES: dict[str, GraphQLInputObjectType] = {
    name: cast(GraphQLInputObjectType, SCHEMA.type_map[name])
    for name in ("PredictionInput", "AnnotationInput", "ItemInput")
}


def _reference(value: Any, type_: GraphQLInputType) -> Any:
    coerced = coerce_input_value(value, type_)
    if coerced is Undefined:
        return Undefined
    return compile_renamer(type_)(coerced)


def _fast(value: Any, type_: GraphQLInputType) -> Any:
    try:
        return compile_coercer(type_)(value)
    except Unhandled:
        return Undefined


PREDICTION: dict[str, Any] = {
    "referenceId": "img1",
    "annotationId": "p1",
    "label": "car",
    "confidence": 1,  # an int is a Float
    "box": {"x": 1.5, "y": 2, "width": 3.0, "height": 4.0},  # rotation defaults to 0
    "metadata": {"camelKey": [1, {"b": None}]},
    "classPdf": {"car": 0.75},
    "customMetrics": [{"name": "iou", "value": 0.5}],
    "classifications": [{"name": "color", "value": "red"}],
    "segmentation": {"rle": {"counts": [1, 2], "size": [4, 5]}, "polygons": None},
    "keypoints": {"points": [{"x": 1.0, "y": 2.0, "visibility": 2.0}], "skeleton": [[0, 1]]},
    "polygon": {"vertices": [{"x": 0.0, "y": 0.0}], "holes": [[{"x": 1.0, "y": 1.0}]]},
    "cuboid": {
        "position": {"x": 1.0, "y": 2.0, "z": 3.0},
        "dimensions": {"x": 1.0, "y": 2.0, "z": 3.0},
        "yaw": 0.5,
    },
    "area": None,
}


def test_valid_rows_equal_graphql_core_renamed() -> None:
    type_ = TYPES["PredictionInput"]
    fast = _fast(PREDICTION, type_)
    assert fast == _reference(PREDICTION, type_)
    assert fast["box"]["rotation"] == 0.0 and type(fast["confidence"]) is float
    assert type(fast["keypoints"]["points"][0]["visibility"]) is int  # 2.0 is an Int
    assert fast["metadata"] == {"camelKey": [1, {"b": None}]}  # JSON is not renamed
    annotation = {"referenceId": "i", "annotationId": "a", "label": "l", "box": PREDICTION["box"]}
    assert _fast(annotation, TYPES["AnnotationInput"])["iscrowd"] is False
    assert _fast(annotation, TYPES["AnnotationInput"]) == _reference(
        annotation, TYPES["AnnotationInput"]
    )


@pytest.mark.parametrize(
    "change",
    [
        {"confidence": True},  # a bool is not a Float
        {"confidence": "0.5"},
        {"confidence": math.inf},
        {"confidence": math.nan},
        {"confidence": 2**60 + 1},  # an int a float cannot hold exactly
        {"label": 5},
        {"referenceId": None},  # non-null (label may be null: semantic masks carry none)
        {"nope": 1},  # unknown field
        {"box": {"x": 1.0, "y": 2.0, "width": 3.0}},  # a required field missing
        {"keypoints": {"points": [{"x": 1.0, "y": 2.0, "visibility": 2**31}]}},  # 32-bit Int
        {"keypoints": {"points": [{"x": 1.0, "y": 2.0, "visibility": 1.5}]}},
        {"keypoints": {"points": [{"x": 1.0, "y": 2.0, "visibility": False}]}},
        {"classifications": [None]},
        {"customMetrics": "iou"},
    ],
)
def test_what_graphql_core_rejects_the_fast_path_leaves_to_it(change: dict[str, Any]) -> None:
    row = {**PREDICTION, **change}
    assert _reference(row, TYPES["PredictionInput"]) is Undefined
    assert _fast(row, TYPES["PredictionInput"]) is Undefined


def test_a_lone_value_for_a_list_is_left_to_graphql_core() -> None:
    row = {**PREDICTION, "classifications": {"name": "color", "value": "red"}}
    assert _reference(row, TYPES["PredictionInput"]) is not Undefined  # graphql-core wraps it
    assert _fast(row, TYPES["PredictionInput"]) is Undefined


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)
SCALAR = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3)
KEYPOINT = st.fixed_dictionaries(
    {"x": SCALAR, "y": SCALAR, "visibility": SCALAR}, optional={"name": SCALAR, "extra": SCALAR}
)
ROW = st.fixed_dictionaries(
    {"referenceId": SCALAR, "annotationId": SCALAR, "label": SCALAR},
    optional={
        "confidence": SCALAR,
        "metadata": JSON,
        "box": st.fixed_dictionaries(
            {"x": SCALAR, "y": SCALAR, "width": SCALAR},
            optional={"height": SCALAR, "rotation": SCALAR},
        )
        | SCALAR,
        "keypoints": st.fixed_dictionaries({"points": st.lists(KEYPOINT, max_size=2) | KEYPOINT}),
        "classifications": st.lists(
            st.fixed_dictionaries({"name": SCALAR, "value": SCALAR}), max_size=2
        ),
    },
)


@settings(max_examples=300, deadline=None)
@given(row=ROW)
def test_fast_path_never_disagrees_with_graphql_core(row: dict[str, Any]) -> None:
    fast = _fast(row, TYPES["PredictionInput"])
    reference = _reference(row, TYPES["PredictionInput"])
    if fast is not Undefined:
        assert reference is not Undefined and fast == reference


UPSERT = (
    "mutation($id: ID!, $rows: [PredictionInput!]!) { upsertPredictions(modelRunId: $id, "
    "predictions: $rows) { ... on UpsertResult { new } ... on Error { message } } }"
)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"confidence": True}, "Float cannot represent"),
        ({"nope": 1}, "nope"),
        ({"referenceId": None}, "referenceId"),
        ({"box": {"x": 1.0, "width": 1.0, "height": 1.0}}, "required field 'y'"),
    ],
)
async def test_bad_batches_are_still_graphql_cores_errors(
    execute_sqlite: Executor, change: dict[str, Any], fragment: str
) -> None:
    data, errors = await execute_sqlite.run(
        UPSERT, {"id": "TW9kZWxSdW46MQ==", "rows": [PREDICTION, {**PREDICTION, **change}]}
    )
    assert data is None and len(errors) == 1
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert errors[0]["message"].startswith("Variable '$rows' has invalid value at [1]")
    assert fragment in errors[0]["message"]


def test_renamed_rows_equal_the_strawberry_path_without_unset_fields() -> None:
    row: dict[str, Any] = {
        "referenceId": "img1",
        "annotationId": "p1",
        "label": "car",
        "metadata": {"camelKey": {"innerKey": [1, 2]}},
        "classPdf": {"car": 0.75, "bus": 0.25},
        "customMetrics": [{"name": "iou", "value": 0.5}],
        "classifications": [{"name": "color", "value": "red"}],
        "segmentation": {"rle": {"counts": "PZ`0", "size": [4, 5]}},
    }
    rows_type = SCHEMA.mutation_type.fields["upsertPredictions"].args["predictions"].type  # type: ignore[union-attr]
    renamed = compile_renamer(rows_type)(coerce_input_value([row], rows_type))

    strawberry_rows = to_plain_list(
        [
            PredictionInput(  # type: ignore[call-arg]
                reference_id="img1",
                annotation_id="p1",
                label="car",
                metadata=row["metadata"],
                class_pdf=row["classPdf"],
                custom_metrics=[MetricValueInput(name="iou", value=0.5)],
                classifications=[ClassificationInput(name="color", value="red")],
                segmentation=SegmentationInput(rle=RleInput(counts="PZ`0", size=[4, 5])),  # type: ignore[call-arg,arg-type]
            )
        ]
    )
    expected = {k: v for k, v in strawberry_rows[0].items() if v is not None}
    expected["segmentation"] = {"rle": {"counts": "PZ`0", "size": [4, 5]}}
    assert renamed == [expected]
    assert renamed[0]["metadata"] == {"camelKey": {"innerKey": [1, 2]}}  # JSON stays as sent
