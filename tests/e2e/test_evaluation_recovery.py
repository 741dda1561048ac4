"""A server killed with SIGKILL in the middle of an evaluation loses nothing: once the job's
lease expires the restarted server takes the job up again and it completes (attempt 2), and
the published metrics equal pycocotools' on the same data."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from bench.cocogen import make_detections, make_ground_truth
from sliceboard.config import Settings
from sliceboard.runtime import Runtime
from tests.support.coco_cases import CocoCase, case_stats
from tests.support.evaluation_upload import upload_case
from tests.support.graphql import COCO_SUMMARY_FIELDS
from tests.support.serving import start_server

pytestmark = pytest.mark.slow


def start(database: Path) -> tuple[subprocess.Popen[bytes], str]:
    return start_server(
        "--database-url",
        f"sqlite+aiosqlite:///{database}",
        env={
            **os.environ,
            "SLICEBOARD_JOB_POLL_SECONDS": "0.1",
            "SLICEBOARD_JOB_LEASE_SECONDS": "2",
        },
        timeout=60,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its worker processes die with it, as on a crashed machine
    )


def job_row(database: Path, job_id: str) -> tuple[str, int]:
    with sqlite3.connect(database, timeout=30) as connection:
        status, attempts = connection.execute(
            "SELECT status, attempts FROM job WHERE id = ?", (int(job_id),)
        ).fetchone()
    return str(status), int(attempts)


def coco_case(n_images: int) -> CocoCase:
    """bench's generator (realistic sizes and overlaps) in the parity tests' case shape."""
    gt = make_ground_truth(n_images, seed=11)
    for image in gt["images"]:
        image["key"] = f"img-{image['id']}"
    for ann in gt["annotations"]:
        ann.pop("segmentation", None)
    return CocoCase(dataset=gt, detections=make_detections(gt, seed=12), image_keys=sorted(
        f"img-{i['id']}" for i in gt["images"]))  # fmt: skip


def test_a_killed_server_finishes_the_evaluation_after_restart(sqlite_url: str) -> None:
    database = Path(sqlite_url.removeprefix("sqlite+aiosqlite:///"))
    case = coco_case(300)

    async def seed() -> str:
        runtime = Runtime.create(Settings(database_url=sqlite_url))
        try:
            return (await upload_case(runtime, case))[1]
        finally:
            await runtime.close()

    run_id = asyncio.run(seed())
    process, base = start(database)
    try:
        answer = httpx.post(
            f"{base}/graphql",
            json={
                "query": f'mutation {{ calculateEvaluationMetrics(modelRunId: "{run_id}") {{ ... on Job {{ id }} }} }}'
            },
            timeout=30,
        ).json()
        job_id = answer["data"]["calculateEvaluationMetrics"]["id"]
        deadline = time.monotonic() + 60
        while job_row(database, job_id)[0] == "QUEUED" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert job_row(database, job_id) == ("RUNNING", 1)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert job_row(database, job_id) == ("RUNNING", 1), "the kill came after the evaluation ended"

    process, base = start(database)
    try:
        deadline = time.monotonic() + 120
        while job_row(database, job_id)[0] != "SUCCEEDED" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert job_row(database, job_id) == ("SUCCEEDED", 2)
        metrics = httpx.post(
            f"{base}/graphql",
            json={
                "query": f'query {{ modelRun(id: "{run_id}") {{ evaluation {{ version status }} metrics {{ coco {{ {COCO_SUMMARY_FIELDS} }} }} }} }}'
            },
            timeout=60,
        ).json()["data"]["modelRun"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert metrics["evaluation"] == {"version": 1, "status": "SUCCEEDED"}
    ours = np.array([metrics["metrics"]["coco"][k] for k in COCO_SUMMARY_FIELDS.split()])
    np.testing.assert_allclose(ours, case_stats(case), rtol=0, atol=1e-12)
