"""The geometry family registry: one record per stored type, and the upload fast path for
boxes that must know every other family's input field."""

from __future__ import annotations

import pytest

from sliceboard.services.validation.families import FAMILIES, UPLOAD_FIELDS
from sliceboard.services.validation.geometry import parse_geometry
from sliceboard.services.validation.issues import Issues
from tests.support.factories import box


def test_types_fields_and_evaluation_families_are_each_named_once() -> None:
    for names in (
        [family.type for family in FAMILIES],
        [family.field for family in FAMILIES if family.field is not None],
        [family.evaluated_as for family in FAMILIES],
    ):
        assert len(names) == len(set(names))
    assert {f.general for f in FAMILIES if f.general} <= {f.type for f in FAMILIES}


@pytest.mark.parametrize("field", [field for field, _, _ in UPLOAD_FIELDS if field != "box"])
def test_a_box_with_any_other_geometry_is_refused(field: str) -> None:
    """The box fast path checks the other fields by name: a family missing there would let a
    second geometry through silently."""
    issues = Issues()
    assert parse_geometry({"box": box(), field: {}}, "annotations[0]", issues) is None
    assert [(issue.path, issue.message) for issue in issues.items] == [
        ("annotations[0]", f"give at most one geometry (got box, {field})")
    ]


def test_no_geometry_is_a_category() -> None:
    issues = Issues()
    assert parse_geometry({"label": "cat"}, "annotations[0]", issues) == ("CATEGORY", None, None)
    assert len(issues) == 0
