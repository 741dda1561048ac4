"""A curve's points are cut to a bound from its arrays, at the positions Python's own
``round(k * step)`` picks (ties to even), so the answer is the one the list-based cut gave."""

from __future__ import annotations

import pytest

from sliceboard.services.evaluation.results import evenly_spaced_positions


def _by_python(count: int, limit: int) -> list[int]:
    if count <= limit:
        return list(range(count))
    if limit <= 1:
        return [count - 1]
    step = (count - 1) / (limit - 1)
    return [round(k * step) for k in range(limit)]


@pytest.mark.parametrize(
    ("count", "limit"),
    [(0, 5), (3, 5), (5, 5), (6, 5), (1001, 11), (1000, 3), (7, 1), (10, 2), (377_476, 1000),
     (2_999_999, 1000), (12, 5), (9, 4), (21, 9)],
)  # fmt: skip
def test_positions_are_pythons_rounding(count: int, limit: int) -> None:
    assert evenly_spaced_positions(count, limit).tolist() == _by_python(count, limit)


def test_ties_round_to_even() -> None:
    # count 10, limit 5: step 2.25, and k=2 gives 4.5, which rounds to 4 (even), not 5.
    assert evenly_spaced_positions(10, 5).tolist() == [0, 2, 4, 7, 9]
