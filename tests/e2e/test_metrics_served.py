"""``/metrics`` of a real ``sliceboard serve`` process on both backends, after a real evaluation:
the job's duration, the workers that ran it, and the snapshot cache's hits and misses."""

from __future__ import annotations

import os
import signal
import subprocess

import httpx
import pytest

from tests.e2e.test_metrics_endpoint import samples, value
from tests.support.coco_cases import make_case
from tests.support.served_runs import evaluate, graphql, upload_run
from tests.support.serving import start_server

pytestmark = pytest.mark.slow

METRICS = """query Report($r: ID!) { modelRun(id: $r) { metrics { itemCount coco { ap } } } }"""


def test_job_workers_and_cache_metrics(database_url: str) -> None:
    process, base = start_server(
        "--database-url",
        database_url,
        env={
            **os.environ,
            "SLICEBOARD_JOB_POLL_SECONDS": "0.1",
            "SLICEBOARD_METRICS_ACCESS": "open",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        run_id = upload_run(base, make_case(seed=3, n_images=8))
        evaluate(base, run_id)
        graphql(base, METRICS, {"r": run_id})
        first = samples(httpx.get(f"{base}/metrics", timeout=10).text)
        graphql(base, METRICS, {"r": run_id})
        second = samples(httpx.get(f"{base}/metrics", timeout=10).text)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)

    durations = "sliceboard_job_duration_seconds"
    assert value(first, f"{durations}_count", kind="evaluate", outcome="SUCCEEDED") == 1
    assert value(first, f"{durations}_sum", kind="evaluate", outcome="SUCCEEDED") > 0
    assert value(first, "sliceboard_jobs", status="QUEUED") == 0
    assert value(first, "sliceboard_jobs", status="RUNNING") == 0
    assert value(first, "sliceboard_workers_alive", role="jobs") == 1
    assert value(first, "sliceboard_workers_alive", role="evaluation") > 0  # the pool it ran in
    lookups = "sliceboard_snapshot_cache_lookups_total"
    assert value(first, lookups, result="miss") == 1  # loaded once, for the first report
    assert value(second, lookups, result="miss") == 1
    assert value(second, lookups, result="hit") > value(first, lookups, result="hit")
    assert value(second, "sliceboard_snapshot_cache_entries") == 1
    requests = "sliceboard_graphql_requests_total"
    assert value(second, requests, operation="Report", type="query") == 2
