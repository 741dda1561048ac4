"""A stored snapshot is inflated straight into the shared file (no decoded copy first): every
array must come back exactly as ``np.load`` decodes it, and entries that cannot be placed as
they are must be refused so the caller decodes them instead."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sliceboard.compute import shared_arrays
from sliceboard.services.evaluation.snapshot import Snapshot
from tests.compute.test_shared_arrays import small_snapshot


def test_an_npz_blob_inflates_into_the_same_arrays(tmp_path: Path) -> None:
    snapshot = small_snapshot(5)
    blob = snapshot.to_bytes()
    shared = shared_arrays.write_shared_npz(blob, [str(tmp_path)])
    try:
        mapped = shared_arrays.attach(shared)
        with np.load(io.BytesIO(blob), allow_pickle=False) as decoded:
            assert set(mapped) == set(decoded.files)
            for name in decoded.files:
                expected = decoded[name]
                assert mapped[name].dtype == expected.dtype, name
                assert mapped[name].shape == expected.shape, name
                np.testing.assert_array_equal(mapped[name], expected)
        back = Snapshot.from_arrays(mapped)
        assert back.label_names == snapshot.label_names and back.kind == snapshot.kind
        np.testing.assert_array_equal(back.table.dt_state, snapshot.table.dt_state)
        np.testing.assert_array_equal(back.table.dt_gt.to_dense(), snapshot.table.dt_gt.to_dense())
    finally:
        os.unlink(shared.path)


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w") as entry:
                np.lib.format.write_array(entry, array, allow_pickle=False)
    return buffer.getvalue()


def test_entries_it_cannot_place_as_they_are_are_refused(tmp_path: Path) -> None:
    fortran = np.asfortranarray(np.arange(12, dtype=np.int64).reshape(3, 4))
    with pytest.raises(ValueError, match="Fortran"):
        shared_arrays.write_shared_npz(_npz(a=np.arange(3), b=fortran), [str(tmp_path)])
    assert not list(tmp_path.iterdir())  # nothing left behind
    scalar = np.array("bbox")
    shared = shared_arrays.write_shared_npz(_npz(kind=scalar, n=np.arange(5.0)), [str(tmp_path)])
    try:
        mapped = shared_arrays.attach(shared)
        assert str(mapped["kind"]) == "bbox" and mapped["kind"].shape == ()
        np.testing.assert_array_equal(mapped["n"], np.arange(5.0))
    finally:
        os.unlink(shared.path)
