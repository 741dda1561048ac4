"""A precision/recall curve answers at most ``max_list_items`` points, ends included."""

from __future__ import annotations

from sliceboard.schema.evaluation.report import evenly_spaced


def test_short_curves_are_answered_whole() -> None:
    points = list(range(5))
    assert evenly_spaced(points, 5) == points
    assert evenly_spaced(points, 1000) == points


def test_long_curves_keep_both_ends_and_even_steps() -> None:
    points = list(range(1001))
    assert evenly_spaced(points, 11) == [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
    assert evenly_spaced(points, 2) == [0, 1000]
    assert evenly_spaced(points, 1) == [1000]
    assert len(evenly_spaced(list(range(3_000_000)), 1000)) == 1000
