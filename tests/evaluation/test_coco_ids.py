"""IdIndex: ids to ranks, by binary search or - for consecutive ids - by offset."""

from __future__ import annotations

import numpy as np
import pytest

from sliceboard.cocofiles.columns import Records
from sliceboard.cocofiles.ids import IdIndex

BIG = 2**63 - 1


@pytest.mark.parametrize(
    "ids",
    [
        list(range(1, 40)),  # consecutive: ranks by offset
        list(range(-5, 5)),
        [BIG - 2, BIG - 1, BIG],
        [-BIG - 1, -BIG, -BIG + 1],
        [3, 7, 8, 21, 40],  # gaps: binary search
        [7],
    ],
)
def test_lookup_integers_is_the_rank_or_minus_one(ids: list[int]) -> None:
    index = IdIndex(Records("gt.json", [{"id": i} for i in reversed(ids)], "images", str))
    rank = {v: r for r, v in enumerate(sorted(ids))}
    probes = sorted(
        {*ids, 0, 1, 2, 39, 40, 41, -6, 5, 100, BIG, BIG - 3, -BIG - 1, -BIG + 2, 2**62}
    )
    got = index.lookup_integers(np.array(probes, dtype=np.int64))
    assert got.dtype == np.int64
    assert got.tolist() == [rank.get(p, -1) for p in probes]
