"""SparseRows reads like the dense matrix it replaces."""

from __future__ import annotations

import numpy as np
import pytest

from sliceboard.evaluation import MatchTable
from sliceboard.evaluation.sparse_rows import SparseRows
from tests.support.golden import confusion_case


def test_rows_and_values_read_like_the_dense_matrix() -> None:
    dense = np.full((3, 6), -1, dtype=np.int32)
    dense[0, 4] = 2
    dense[2, 0] = 7
    dense[2, 5] = 1
    sparse = SparseRows.from_dense(dense, -1)
    assert sparse.shape == (3, 6) and sparse.value.shape == (3,)
    np.testing.assert_array_equal(sparse.to_dense(), dense)
    for r in range(3):
        np.testing.assert_array_equal(sparse[r], dense[r])
        for c in range(6):
            assert sparse[r, c] == dense[r, c]
    assert sparse[-1, 0] == 7
    with pytest.raises(IndexError):
        sparse.row(3)


def test_round_trip_through_arrays_keeps_dtype_and_fill() -> None:
    sparse = SparseRows.from_entries(
        np.array([1, 0]), np.array([2, 3]), np.array([0.5, 0.25], np.float32), (2, 4), 0.0
    )
    arrays = sparse.to_arrays("iou")
    back = SparseRows.from_arrays(arrays.__getitem__, "iou")
    assert back.value.dtype == np.float32 and back.fill == 0.0
    np.testing.assert_array_equal(back.to_dense(), sparse.to_dense())
    assert back[1].tolist() == [0.0, 0.0, 0.5, 0.0]


def test_match_table_reads_blobs_with_dense_detail_matrices() -> None:
    table = confusion_case()
    arrays = table.to_arrays()
    for name, fill in (("dt_gt", -1), ("dt_iou", 0.0), ("dt_confused_gt", -1)):
        dense = getattr(table, name).to_dense()
        for key in [k for k in arrays if k.startswith(f"{name}.")]:
            del arrays[key]
        arrays[name] = dense
        assert getattr(table, name).fill == fill
    restored = MatchTable.from_arrays(arrays)
    for name in ("dt_gt", "dt_iou", "dt_confused_gt"):
        np.testing.assert_array_equal(
            getattr(restored, name).to_dense(), getattr(table, name).to_dense()
        )


@pytest.mark.parametrize("shuffle", [False, True])
def test_take_reads_columns_of_a_row_like_the_dense_matrix(shuffle: bool) -> None:
    rng = np.random.default_rng(3)
    dense = np.where(rng.random((4, 50)) < 0.3, rng.integers(0, 9, (4, 50)), -1)
    rows, cols = np.nonzero(dense != -1)
    if shuffle:  # entries of a row in any column order, as the engine may add them
        order = rng.permutation(rows.shape[0])
        rows, cols = rows[order], cols[order]
    sparse = SparseRows.from_entries(rows, cols, dense[rows, cols], dense.shape, -1)
    for r in (0, 1, 2, 3, -1):
        picks = rng.integers(0, 50, 30)
        np.testing.assert_array_equal(sparse.take(r, picks), dense[r][picks])
    empty = SparseRows.from_entries(rows[:0], cols[:0], dense[rows[:0], cols[:0]], dense.shape, -1)
    assert empty.take(1, np.array([0, 5])).tolist() == [-1, -1]
    with pytest.raises(IndexError):
        sparse.take(4, np.array([0]))
