"""A real ``sliceboard serve`` whose evaluation worker is SIGKILLed at every attempt (as the
out-of-memory killer would): the job ends FAILED after its attempts with a message that says
how the worker died, it is not claimed again, and the server keeps serving (issue 11 §3)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time

import httpx
import psutil
import pytest

from sliceboard.config import Settings
from sliceboard.runtime import Runtime
from tests.support.coco_cases import make_case
from tests.support.evaluation_upload import upload_case
from tests.support.serving import post, start_server

pytestmark = pytest.mark.slow

JOB = "query($id: ID!) { job(id: $id) { status error attempts } }"


def _kill_pool_workers(server: psutil.Process, killed: set[int]) -> None:
    """SIGKILL every spawned worker of the server (the resource tracker is left alone)."""
    for child in server.children(recursive=True):
        try:
            if child.pid not in killed and "spawn_main" in " ".join(child.cmdline()):
                child.send_signal(signal.SIGKILL)
                killed.add(child.pid)
        except psutil.NoSuchProcess:
            continue


def test_a_worker_killed_at_every_attempt_fails_the_job_and_the_server_lives_on(
    sqlite_url: str,
) -> None:
    async def seed() -> str:
        runtime = Runtime.create(Settings(database_url=sqlite_url))
        try:
            return (await upload_case(runtime, make_case(9)))[1]
        finally:
            await runtime.close()

    run_id = asyncio.run(seed())
    process, base = start_server(
        "--database-url",
        sqlite_url,
        env={
            **os.environ,
            "SLICEBOARD_JOB_POLL_SECONDS": "0.1",
            "SLICEBOARD_JOB_MAX_ATTEMPTS": "2",
        },
        timeout=60,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        server = psutil.Process(process.pid)
        answer = post(
            base,
            "mutation($r: ID!) { calculateEvaluationMetrics(modelRunId: $r) { ... on Job { id } } }",
            {"r": run_id},
        )
        job_id = answer["calculateEvaluationMetrics"]["id"]
        killed: set[int] = set()
        deadline = time.monotonic() + 60
        while (job := post(base, JOB, {"id": job_id})["job"])["status"] not in (
            "FAILED",
            "SUCCEEDED",
        ):
            assert time.monotonic() < deadline, f"the job never ended: {job}"
            _kill_pool_workers(server, killed)
            time.sleep(0.01)
        assert job["status"] == "FAILED", job
        assert job["attempts"] == 2
        assert job["error"].startswith(
            ("WorkerDied: the worker process was killed by SIGKILL",
             "WorkerDied: the worker process exited")  # exit code not reaped yet under load
        )  # fmt: skip
        assert job["error"].endswith("(attempt 2 of 2)")
        assert len(killed) >= 2
        assert process.poll() is None
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        assert post(base, JOB, {"id": job_id})["job"] == job  # final: not claimed again
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail("server ignored SIGTERM")
