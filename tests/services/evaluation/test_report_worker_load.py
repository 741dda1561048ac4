"""Eight concurrent cold metric requests over a real evaluation, on uvloop as ``sliceboard
serve`` runs: every report part is answered by the one report worker, which is never declared
dead (before: its large answers arrived in pieces, the server read EAGAIN mid-message and
restarted the worker 3-15 times per start, falling back to computing in-process)."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import httpx
import pytest
import uvloop

from sliceboard.app import create_app
from sliceboard.config import Settings
from sliceboard.runtime import Runtime
from tests.support.coco_cases import make_case
from tests.support.evaluation_upload import upload_case
from tests.support.graphql import GraphQLClient

METRICS = """query($r: ID!, $iou: Float!, $conf: Float!) { modelRun(id: $r) {
    metrics(iouThreshold: $iou, confidenceThreshold: $conf) {
      coco { ap ar100 } perLabel { label ap f1 } confusionMatrix { counts }
      precisionRecallCurve { recall precision confidence } } } }"""


async def _evaluate(gql: GraphQLClient, run_id: str) -> None:
    job = (
        await gql.data(
            "mutation($r: ID!) { calculateEvaluationMetrics(modelRunId: $r) { ... on Job { id } } }",
            {"r": run_id},
        )
    )["calculateEvaluationMetrics"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = (await gql.data("query($id: ID!) { job(id: $id) { status error } }", job))["job"]
        if state["status"] not in ("QUEUED", "RUNNING"):
            assert state["status"] == "SUCCEEDED", state
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the evaluation did not finish")


def test_concurrent_cold_reports_never_restart_the_worker(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'sliceboard.db'}",
        run_jobs=True,
        job_poll_seconds=0.05,
    )
    case = make_case(seed=5, n_images=400)  # ~7k predictions: answers of hundreds of kB
    app = create_app(settings)
    runtime: Runtime = app.state.runtime

    async def body() -> None:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://localhost", timeout=60) as http,
        ):
            gql = GraphQLClient(http)
            _, run_id = await upload_case(runtime, case)
            await _evaluate(gql, run_id)
            thresholds = [(0.5, 0.0), (0.75, 0.0), (0.5, 0.3), (0.6, 0.1),
                          (0.55, 0.2), (0.9, 0.0), (0.7, 0.5), (0.85, 0.4)]  # fmt: skip
            answers = await asyncio.gather(
                *(
                    gql.data(METRICS, {"r": run_id, "iou": iou, "conf": conf})
                    for iou, conf in thresholds
                )
            )
            curves = [a["modelRun"]["metrics"]["precisionRecallCurve"] for a in answers]
            assert all(curves), "every report has a curve"
            assert runtime.compute.report_worker.restarts == 0

    with (
        caplog.at_level(logging.WARNING, logger="sliceboard"),
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        runner.run(body())
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
