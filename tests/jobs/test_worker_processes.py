"""Real worker processes: a job survives kill -9 of its worker, and two workers sharing one
database (SKIP LOCKED on PostgreSQL, the write lock on SQLite) run every job exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from sliceboard.runtime import Runtime
from tests.support.jobs import enqueue, load, wait_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def start_worker(database_url: str, log: Path, *, lease: float) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SLICEBOARD_DATABASE_URL": database_url,
        "SLICEBOARD_JOB_LEASE_SECONDS": str(lease),
        "SLICEBOARD_JOB_POLL_SECONDS": "0.05",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.jobs.worker_main", str(log)], cwd=ROOT, env=env
    )


def log_lines(log: Path, event: str) -> list[tuple[int, int, int]]:
    """(job id, attempt, pid) of each ``event`` line."""
    if not log.exists():
        return []
    rows = [line.split() for line in log.read_text().splitlines()]
    return [(int(r[1]), int(r[2]), int(r[3])) for r in rows if r[0] == event]


async def wait_ready(log: Path, count: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while (
        sum(
            1
            for line in (log.read_text() if log.exists() else "").splitlines()
            if line.startswith("ready")
        )
        < count
    ):
        assert time.monotonic() < deadline, "workers did not start"
        await asyncio.sleep(0.05)


def stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


async def test_a_job_survives_kill_9_of_its_worker(
    runtime: Runtime, database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    job_id = await enqueue(runtime, payload={"steps": 10, "step_seconds": 0.1})
    first = start_worker(database_url, log, lease=1.0)
    second = None
    try:
        deadline = time.monotonic() + 15
        while (job := await load(runtime, job_id)).progress < 0.2:
            assert time.monotonic() < deadline, f"first worker never made progress ({job.status})"
            await asyncio.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert (await load(runtime, job_id)).status == "RUNNING"
        second = start_worker(database_url, log, lease=1.0)
        job = await wait_for(runtime, job_id, {"SUCCEEDED", "FAILED"}, timeout=15)
    finally:
        first.kill()
        first.wait()
        if second is not None:
            stop(second)
    assert (job.status, job.attempts, job.progress, job.error) == ("SUCCEEDED", 2, 1.0, None)
    assert second is not None
    assert log_lines(log, "start") == [(job_id, 1, first.pid), (job_id, 2, second.pid)]
    assert log_lines(log, "done") == [(job_id, 2, second.pid)]


async def test_two_workers_run_each_job_exactly_once(
    runtime: Runtime, database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    workers = [start_worker(database_url, log, lease=30.0) for _ in range(2)]
    try:
        await wait_ready(log, 2)
        ids = [
            await enqueue(runtime, payload={"steps": 3, "step_seconds": 0.02}) for _ in range(30)
        ]
        jobs = [
            await wait_for(runtime, job_id, {"SUCCEEDED", "FAILED"}, timeout=20) for job_id in ids
        ]
    finally:
        for worker in workers:
            stop(worker)
    assert all((job.status, job.attempts) == ("SUCCEEDED", 1) for job in jobs)
    done = log_lines(log, "done")
    assert Counter(job_id for job_id, _, _ in done) == Counter(ids)
    assert Counter(job_id for job_id, _, _ in log_lines(log, "start")) == Counter(ids)
    assert {pid for _, _, pid in done} == {worker.pid for worker in workers}
