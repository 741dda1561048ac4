"""Snapshot files shared with the report worker: written, mapped back, swept, moved on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sliceboard.compute import shared_arrays
from sliceboard.services.evaluation.snapshot import Snapshot
from tests.support.coco_cases import make_case, run_engine


def small_snapshot(seed: int) -> Snapshot:
    table, _ = run_engine(make_case(seed=seed, n_images=4))
    return Snapshot(
        table=table, item_ids=np.arange(4), gt_ids=np.arange(table.gt_item.shape[0]),
        dt_ids=np.arange(table.dt_item.shape[0]), label_names=["a"], kind="bbox", family="bbox",
    )  # fmt: skip


def test_snapshot_files_of_dead_servers_are_swept(tmp_path: Path) -> None:
    """A server killed between writing a snapshot file and unlinking it leaves it behind; the
    next writer removes it (and leaves a live process's file alone)."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = tmp_path / f"sliceboard-{dead.stdout.strip()}-abc.snapshot"
    stale.write_bytes(b"x")
    live = tmp_path / f"sliceboard-{os.getpid()}-def.snapshot"
    live.write_bytes(b"x")
    snapshot = small_snapshot(3)
    shared = shared_arrays.write_shared(snapshot.to_arrays(), [str(tmp_path)])
    assert not stale.exists() and live.exists()
    back = Snapshot.from_arrays(shared_arrays.attach(shared))
    os.unlink(shared.path)
    np.testing.assert_array_equal(back.table.dt_state, snapshot.table.dt_state)
    assert back.kind == "bbox" and back.table.n_items == snapshot.table.n_items


def test_a_directory_that_refuses_the_snapshot_file_passes_it_to_the_next() -> None:
    """An OSError there (as posix_fallocate raises when a container's 64 MB /dev/shm has no
    room, instead of a SIGBUS while writing) moves the file to the next directory."""
    snapshot = small_snapshot(4)
    with pytest.raises(OSError):
        shared_arrays.write_shared(snapshot.to_arrays(), ["/proc"])  # no room at all
    shared = shared_arrays.write_shared(
        snapshot.to_arrays(), ["/proc", shared_arrays.shared_directories()[-1]]
    )
    try:
        back = Snapshot.from_arrays(shared_arrays.attach(shared))
        np.testing.assert_array_equal(back.table.dt_score, snapshot.table.dt_score)
    finally:
        os.unlink(shared.path)
