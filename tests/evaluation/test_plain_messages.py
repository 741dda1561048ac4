"""Messages a user reads say plain values, never numpy reprs (issue 11 §7:
``... on area range np.str_('all')``)."""

from __future__ import annotations

import pytest

from sliceboard.evaluation import (
    EvaluationInputError,
    GroundTruth,
    Predictions,
    box_similarity,
    evaluate,
)


def test_an_unevaluated_threshold_names_the_area_range_plainly() -> None:
    gt = GroundTruth.from_arrays(item=[0], label=[0], area=[100.0])
    dt = Predictions.from_arrays(item=[0], label=[0], score=[0.9], area=[100.0])
    table = evaluate(gt, dt, box_similarity([[0, 0, 10, 10]], [[0, 0, 10, 10]]), 1, 1)
    with pytest.raises(EvaluationInputError) as caught:
        table.row_index(0.52)
    message = str(caught.value)
    assert "on area range 'all';" in message, message
    assert "np." not in message
    assert "available: [0.05, 0.1," in message
