"""Polyline band IoU on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from sliceboard.evaluation.geometry.polylines import polyline_bands, polyline_similarity


def _iou(a, b, width: float = 2.0) -> float:
    return float(
        polyline_similarity([a], [b], width)(np.array([0]), np.array([0]), np.array([False]))[0]
    )


def test_identical_lines_score_one() -> None:
    line = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0)]
    assert _iou(line, line) == pytest.approx(1.0)


def test_parallel_offset_line() -> None:
    # bands [-1,1] and [0,2] in y over x in [0,10]: 10 / 30
    assert _iou([(0, 0), (10, 0)], [(0, 1), (10, 1)]) == pytest.approx(1 / 3)
    assert _iou([(0, 0), (10, 0)], [(0, 3), (10, 3)]) == 0.0


def test_flat_caps_make_a_short_prediction_lose_its_missing_length() -> None:
    assert _iou([(0, 0), (5, 0)], [(0, 0), (10, 0)]) == pytest.approx(0.5)


def test_width_is_configurable() -> None:
    # width 4: bands [-2,2] and [-1,3]: overlap 3 of union 5
    assert _iou([(0, 0), (10, 0)], [(0, 1), (10, 1)], width=4.0) == pytest.approx(3 / 5)
    with pytest.raises(ValueError, match="width"):
        polyline_bands([[(0, 0), (1, 0)]], width=0.0)


def test_degenerate_lines_have_empty_bands() -> None:
    bands = polyline_bands([[(0, 0)], [(1, 1), (1, 1)], [(0, 0), (float("inf"), 0)]])
    assert [b.area for b in bands] == [0.0, 0.0, 0.0]
    assert _iou([(0, 0)], [(0, 0), (1, 0)]) == 0.0


def test_round_joins_have_no_mitre_spikes() -> None:
    (band,) = polyline_bands([[(0, 0), (10, 0), (0, 1)]], width=2.0)
    assert band.bounds[2] < 11.01
