"""A real ``sliceboard serve`` keeps mapped only the snapshots its caches hold: 30 evaluations
of one run, each queried, leave at most the cache's capacity of snapshot files mapped in the
server and in its report worker (before: every evaluation's file stayed mapped, deleted, and
/dev/shm grew by the snapshot's size per evaluation until a restart)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.coco_cases import make_case
from tests.support.served_runs import (
    children,
    evaluate,
    graphql,
    snapshot_mappings,
    upload_run,
)
from tests.support.serving import start_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/maps"),
]

EVALUATIONS = 30
SERVER_CAPACITY = 4  # SnapshotCache's default capacity
METRICS = """query($r: ID!) { modelRun(id: $r) { metrics {
    itemCount coco { ap } perLabel { label ap f1 } confusionMatrix { labels }
    precisionRecallCurve { recall } } } }"""


def _mapped_files(pid: int) -> dict[int, dict[str, int]]:
    """Snapshot mappings of the server and of each of its child processes, by pid."""
    return {p: snapshot_mappings(p) for p in [pid, *children(pid)]}


def test_evicted_snapshots_are_unmapped(tmp_path: Path) -> None:
    log = (tmp_path / "server.log").open("wb")
    process, base = start_server(
        "--database-url",
        f"sqlite+aiosqlite:///{tmp_path / 'sliceboard.db'}",
        env={**os.environ, "SLICEBOARD_JOB_POLL_SECONDS": "0.05"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        run_id = upload_run(base, make_case(seed=11, n_images=12))
        for _ in range(EVALUATIONS):
            evaluate(base, run_id)
            graphql(base, METRICS, {"r": run_id})

        # The worker forgets an evicted snapshot on a request of its own: a bounded poll.
        deadline = time.monotonic() + 10
        while True:
            mapped = _mapped_files(process.pid)
            within = all(len(files) <= SERVER_CAPACITY for files in mapped.values())
            if within or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        counts = {pid: len(files) for pid, files in mapped.items()}
        assert 1 <= counts[process.pid] <= SERVER_CAPACITY, counts
        # The report worker maps the snapshot the last metrics were computed on.
        workers = [pid for pid in counts if pid != process.pid and counts[pid]]
        assert len(workers) == 1, counts
        assert counts[workers[0]] <= SERVER_CAPACITY, counts
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    text = (tmp_path / "server.log").read_text()
    assert "report worker" not in text, text  # no fallback, no worker restart
