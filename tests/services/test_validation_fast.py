"""The validators' fast path: it accepts exactly what the full validators accept, returns the
same rows (values, types, key order, areas to the last bit), and leaves every doubtful batch to
them, so the issues of a bad batch are the full validators' own."""

from __future__ import annotations

import math
import random
from typing import Any

import orjson
import pytest
import shapely

from sliceboard.services.validation import (
    Issues,
    validate_annotations,
    validate_items,
    validate_predictions,
)
from sliceboard.services.validation.fast import fast_items, fast_objects
from sliceboard.services.validation.rows import (
    _validate_annotations,
    _validate_items,
    _validate_predictions,
)
from tests.services.test_validation import BAD_ANNOTATIONS, BAD_ITEMS, BAD_PREDICTIONS
from tests.support.factories import annotation, box, item, prediction, pts

FULL = {
    "annotations": (validate_annotations, _validate_annotations),
    "predictions": (validate_predictions, _validate_predictions),
    "items": (validate_items, _validate_items),
}


def _ring(rng: random.Random, n: int, *, ints: bool = False) -> list[dict[str, Any]]:
    """A convex ``n``-gon (integer vertices: large enough to stay convex once rounded)."""
    cx, cy = rng.uniform(50, 600), rng.uniform(50, 400)
    r, squash = rng.uniform(40 if ints else 1, 60), rng.uniform(0.5, 1.5)
    points = []
    for k in range(n):
        angle = 2 * math.pi * (k + rng.uniform(0, 0.5)) / n
        x, y = cx + r * math.cos(angle), cy + r * math.sin(angle) * squash
        points.append((round(x), round(y)) if ints else (x, y))
    return pts(*points)


def good_objects(seed: int, n: int, *, predictions: bool) -> list[dict[str, Any]]:
    """Well-formed rows of every geometry and optional field, shuffled together."""
    rng = random.Random(seed)
    make = prediction if predictions else annotation
    rows: list[dict[str, Any]] = []
    for i in range(n):
        ref, key, kind = f"img-{i % 7}", f"k{i}", i % 12
        fields: dict[str, Any] = {}
        if kind == 0:
            fields["box"] = box(rng.uniform(-5, 500), rng.uniform(0, 500), rng.uniform(0.1, 90), 7)
        elif kind == 1:
            fields["box"] = box(3, 4, 5, 6, rotation=rng.uniform(-3, 3))
        elif kind == 2:
            fields["box"] = {"x": 1, "y": 2, "width": 3, "height": 4, "rotation": None}
        elif kind == 3:
            fields["polygon"] = {"vertices": _ring(rng, 12), "holes": None}
        elif kind == 4:
            fields["polygon"] = {"vertices": _ring(rng, rng.randint(3, 30), ints=True)}
        elif kind == 5:
            ring = _ring(rng, 8)
            fields["polygon"] = {"vertices": [*ring, ring[0]], "holes": []}  # closed by the user
        elif kind == 6:
            shell = pts((0, 0), (10, 0), (10, 10), (0, 10))
            fields["polygon"] = {"vertices": shell, "holes": [pts((2, 2), (4, 2), (4, 4))]}
        elif kind == 7:
            fields["polyline"] = {"vertices": pts((0, 0), (3, 4))}
        elif kind == 8:
            fields["keypoints"] = {"points": [{"x": 1, "y": 2, "visibility": 2}]}
        elif kind == 9:
            fields["segmentation"] = {"rle": {"counts": [2, 3, 4, 1, 2], "size": [3, 4]}}
        elif kind == 10:
            fields["cuboid"] = {
                "position": {"x": 0, "y": 0, "z": 0},
                "dimensions": {"x": 1, "y": 2, "z": 3},
                "yaw": 0.5,
            }
        else:
            fields["box"] = None  # a classification of the whole item
        if rng.random() < 0.3:
            fields["area"] = rng.choice([3, 12.5])
        if rng.random() < 0.3:
            fields["metadata"] = {"night": True, "n": i, "tags": ["a", "ü"]}
        if rng.random() < 0.2:
            fields["classifications"] = [{"name": "color", "value": "red"}]
        if predictions:
            fields["confidence"] = rng.choice([None, 0.0, 1, 0.25, rng.random()])
            if rng.random() < 0.2:
                fields["class_pdf"] = {"car": 0.75, "bus": 0.25}
            if rng.random() < 0.2:
                fields["custom_metrics"] = [{"name": "m", "value": 2}]
            row = make(ref, key, f"label-{kind}", **fields)
        else:
            if rng.random() < 0.3:
                fields["iscrowd"] = rng.random() < 0.5
            row = make(ref, key, "ünïcode" if kind == 5 else f"label-{kind}", **fields)
        rows.append(row)
    return rows


def _same(fast: list[dict[str, Any]], full: list[dict[str, Any]]) -> None:
    assert len(fast) == len(full)
    for a, b in zip(fast, full, strict=True):
        assert list(a) == list(b)  # key order: the columns of the insert
        # orjson keeps float vs int and every bit of a float: equal text is the same value
        assert orjson.dumps(a) == orjson.dumps(b)


@pytest.mark.parametrize("kind", ["annotations", "predictions"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_path_rows_equal_the_full_validators(kind: str, seed: int) -> None:
    rows = good_objects(seed, 600, predictions=kind == "predictions")
    fast = fast_objects(rows, predictions=kind == "predictions")
    assert fast is not None  # the well-formed batch takes the fast path
    issues = Issues()
    full = FULL[kind][1](rows, issues)
    assert not issues, issues.items[:3]
    _same(fast, full)
    issues = Issues()
    _same(FULL[kind][0](rows, issues), full)
    assert not issues


def test_polygon_areas_are_shapelys_per_polygon_areas() -> None:
    rows = [
        annotation("a", f"k{i}", polygon={"vertices": _ring(random.Random(i), 5 + i % 20)})
        for i in range(300)
    ]
    fast = fast_objects(rows, predictions=False)
    assert fast is not None
    for row in fast:
        shape = shapely.Polygon(row["geometry"]["vertices"])
        assert row["area"] == float(shape.area)
        assert row["type"] == "POLYGON"


def test_fast_items_equal_the_full_validator() -> None:
    rows = [
        item(f"r{i}", url=f"s3://b/{i}.jpg", width=640, height=480, metadata={"i": i})
        for i in range(50)
    ] + [item("plain"), item("ünï", url="é")]
    fast = fast_items(rows)
    assert fast is not None
    issues = Issues()
    _same(fast, _validate_items(rows, issues))
    assert not issues


def _issues(validate: Any, rows: list[Any]) -> list[tuple[str, str]]:
    issues = Issues()
    validate(rows, issues)
    return [(issue.path, issue.message) for issue in issues.items]


BAD_CASES = [("annotations", row) for _, row, _ in BAD_ANNOTATIONS] + [
    ("predictions", row) for _, row, _ in BAD_PREDICTIONS
]


@pytest.mark.parametrize(("kind", "bad"), BAD_CASES)
def test_a_bad_row_among_good_ones_gets_the_full_validators_issues(
    kind: str, bad: dict[str, Any]
) -> None:
    good = good_objects(7, 40, predictions=kind == "predictions")
    rows = [*good[:20], bad, *good[20:]]
    assert fast_objects(rows, predictions=kind == "predictions") is None
    public, full = FULL[kind]
    expected = _issues(full, rows)
    assert expected  # the row is bad
    assert _issues(public, rows) == expected


@pytest.mark.parametrize("bad", [row for _, row, _ in BAD_ITEMS])
def test_a_bad_item_among_good_ones_gets_the_full_validators_issues(bad: dict[str, Any]) -> None:
    rows = [item("a"), bad, item("b", width=3)]
    assert fast_items(rows) is None
    expected = _issues(_validate_items, rows)
    assert expected
    assert _issues(validate_items, rows) == expected


@pytest.mark.parametrize(
    "bad",
    [
        {"vertices": pts((0, 0), (2, 2), (2, 0), (0, 2))},  # bow tie
        {"vertices": pts((0, 0), (1, 1), (2, 2))},  # zero area
        {"vertices": pts((0, 0), (1, 0), (math.nan, 1))},
        {"vertices": pts((0, 0), (1, 0), (1e300, 1))},
        {"vertices": [*pts((0, 0), (1, 0)), {"x": True, "y": 1}]},
        {"vertices": [*pts((0, 0), (1, 0)), {"x": 1}]},
        {"vertices": [*pts((0, 0), (1, 0)), [1, 1]]},
        {"vertices": pts((0, 0), (1, 0))},
        {"vertices": "no"},
        {"vertices": pts((0, 0), (4, 0), (0, 4)), "holes": [pts((5, 5), (6, 5), (6, 6))]},
        {"vertices": pts((0, 0), (4, 0), (0, 4)), "holes": {}},
    ],
)
def test_bad_polygons_in_a_batch_get_the_full_validators_issues(bad: dict[str, Any]) -> None:
    rng = random.Random(3)
    rows = [prediction("a", f"k{i}", polygon={"vertices": _ring(rng, 12)}) for i in range(30)]
    rows.insert(17, prediction("a", "bad", polygon=bad))
    assert fast_objects(rows, predictions=True) is None
    expected = _issues(_validate_predictions, rows)
    assert expected
    assert _issues(validate_predictions, rows) == expected


@pytest.mark.parametrize(
    "rows",
    [
        [prediction("a", "1"), prediction("a", "1")],  # duplicate key
        [prediction("a", "1", label="")],
        [prediction("a", "1", label="x\x00")],
        [prediction("a", "1", label="\ud800")],
        [prediction("a", "1", confidence=1.5)],
        [prediction("a", "1", box=box(x=1e300))],
        [prediction("a", "1", box=box(width=True))],
        [prediction("a", "1", box=box(rotation=math.inf))],
        [prediction("a", "1", box=box(), polygon={"vertices": pts((0, 0), (1, 0), (0, 1))})],
        [prediction("a", "1", metadata={"x": math.nan})],
        [prediction("a", "1", class_pdf={"a": 0.5})],
        [prediction("a", "1", custom_metrics=[{"name": "m", "value": "x"}])],
        [prediction("a", "1", area=-1)],
        ["not a row"],
    ],
)
def test_doubtful_rows_leave_the_batch_to_the_full_validators(rows: list[Any]) -> None:
    assert fast_objects(rows, predictions=True) is None
    expected = _issues(_validate_predictions, rows)
    assert expected
    assert _issues(validate_predictions, rows) == expected


def test_a_huge_integer_still_reaches_the_full_validators() -> None:
    """``float(10**400)`` raises inside a check: the batch goes to the full validators, which
    decide (here: the same OverflowError as before the fast path existed)."""
    rows = [prediction("a", "1", polygon={"vertices": pts((0, 0), (10**400, 0), (0, 1))})]
    with pytest.raises(OverflowError):
        _validate_predictions(rows, Issues())
    with pytest.raises(OverflowError):
        validate_predictions(rows, Issues())
