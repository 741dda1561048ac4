"""The GraphQL side of the geometry family registry: the same type codes and input fields."""

from __future__ import annotations

import dataclasses

from sliceboard.schema.geometry import OUTPUTS, GeometryType, geometry_from_json
from sliceboard.schema.inputs import AnnotationInput, PredictionInput
from sliceboard.services.validation.families import FAMILIES


def test_geometry_type_lists_every_family() -> None:
    assert [member.value for member in GeometryType] == [family.type for family in FAMILIES]


def test_every_family_with_a_geometry_has_an_output_type_and_an_input_field() -> None:
    with_geometry = [family for family in FAMILIES if family.field is not None]
    assert list(OUTPUTS) == [family.type for family in with_geometry]
    for inputs in (AnnotationInput, PredictionInput):
        names = {field.name for field in dataclasses.fields(inputs)}  # type: ignore[arg-type]
        assert {family.field for family in with_geometry} <= names


def test_output_of_a_stored_box_and_of_no_geometry() -> None:
    box = geometry_from_json("BOX", {"x": 1, "y": 2, "width": 3, "height": 4})
    assert (box.x, box.y, box.width, box.height, box.rotation) == (1.0, 2.0, 3.0, 4.0, 0.0)  # type: ignore[union-attr]
    assert geometry_from_json("CATEGORY", None) is None
