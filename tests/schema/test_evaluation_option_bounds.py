"""Every evaluation option has a bound (issue 11 §3): 10,000 thresholds once took 7 GB. Beyond a
bound the mutation answers InvalidInputError naming the option, and queues nothing; the bounds
are settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from sliceboard.config import Settings
from sliceboard.runtime import Runtime
from sliceboard.storage.tables import Evaluation, Job
from tests.support.factories import fetch_all, setup_dataset, setup_run
from tests.support.graphql import Executor

REQUEST = """mutation($r: ID!, $o: EvaluationOptions) {
  calculateEvaluationMetrics(modelRunId: $r, options: $o) {
    __typename ... on Job { id } ... on InvalidInputError { issues { path message } } } }"""


@pytest.fixture
async def tight(sqlite_url: str) -> AsyncIterator[Executor]:
    """Bounds set low through the settings, to show the settings are what decides."""
    settings = Settings(
        database_url=sqlite_url,
        run_jobs=False,
        max_iou_thresholds=3,
        max_detections_limit=100,
        max_label_matches=2,
    )
    runtime = Runtime.create(settings)
    yield Executor(runtime)
    await runtime.close()


async def _issues(execute: Executor, run_id: str, options: dict[str, object]) -> list[str]:
    data = await execute.data(REQUEST, {"r": run_id, "o": options})
    answer = data["calculateEvaluationMetrics"]
    assert answer["__typename"] == "InvalidInputError", answer
    return [issue["path"] for issue in answer["issues"]]


async def test_defaults_refuse_thousands_of_thresholds_and_write_nothing(
    execute_sqlite: Executor,
) -> None:
    sessions = execute_sqlite.runtime.sessions
    run_id = await setup_run(sessions, await setup_dataset(sessions, ["a"]))
    thresholds = [round(0.0001 * k, 4) for k in range(1, 2001)]
    assert await _issues(execute_sqlite, run_id, {"iouThresholds": thresholds}) == [
        "options.iouThresholds"
    ]
    grid = [round(0.05 * k, 2) for k in range(1, 21)]  # the whole 0.05 grid is allowed
    data = await execute_sqlite.data(REQUEST, {"r": run_id, "o": {"iouThresholds": grid}})
    assert data["calculateEvaluationMetrics"]["__typename"] == "Job"
    assert len(await fetch_all(sessions, Job)) == 1
    assert len(await fetch_all(sessions, Evaluation)) == 1


async def test_each_bound_is_a_setting_and_names_its_option(tight: Executor) -> None:
    sessions = tight.runtime.sessions
    run_id = await setup_run(sessions, await setup_dataset(sessions, ["a"]))
    pair = {"groundTruthLabel": "cat", "modelPredictionLabel": "dog"}
    assert await _issues(tight, run_id, {"iouThresholds": [0.5, 0.6, 0.7, 0.8]}) == [
        "options.iouThresholds"
    ]
    assert await _issues(tight, run_id, {"maxDetections": 101}) == ["options.maxDetections"]
    assert await _issues(tight, run_id, {"allowedLabelMatches": [pair] * 3}) == [
        "options.allowedLabelMatches"
    ]
    assert await _issues(
        tight,
        run_id,
        {"allowedLabelMatches": [{**pair, "modelPredictionLabel": "x" * 256}, pair]},
    ) == ["options.allowedLabelMatches[0].modelPredictionLabel"]
    assert await _issues(
        tight, run_id, {"allowedLabelMatches": [{**pair, "groundTruthLabel": "ca\x00t"}]}
    ) == ["options.allowedLabelMatches[0].groundTruthLabel"]
    assert await fetch_all(sessions, Job) == []
    at_bounds = {"iouThresholds": [0.5, 0.6, 0.7], "maxDetections": 100}
    data = await tight.data(
        REQUEST, {"r": run_id, "o": {**at_bounds, "allowedLabelMatches": [pair] * 2}}
    )
    assert data["calculateEvaluationMetrics"]["__typename"] == "Job"


def test_the_bounds_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLICEBOARD_MAX_IOU_THRESHOLDS", "5")
    monkeypatch.setenv("SLICEBOARD_MAX_DETECTIONS_LIMIT", "200")
    monkeypatch.setenv("SLICEBOARD_MAX_LABEL_MATCHES", "9")
    monkeypatch.setenv("SLICEBOARD_EVALUATION_MEMORY_MB", "64")
    monkeypatch.setenv("SLICEBOARD_MAX_QUEUED_EVALUATIONS_PER_RUN", "4")
    monkeypatch.setenv("SLICEBOARD_JOB_CANCEL_POLL_SECONDS", "0.25")
    settings = Settings.from_env()
    assert (
        settings.max_iou_thresholds,
        settings.max_detections_limit,
        settings.max_label_matches,
        settings.evaluation_memory_mb,
        settings.max_queued_evaluations_per_run,
        settings.job_cancel_poll_seconds,
    ) == (5, 200, 9, 64, 4, 0.25)
    for name in ("max_iou_thresholds", "evaluation_memory_mb", "max_queued_evaluations_per_run"):
        with pytest.raises(ValueError, match=f"SLICEBOARD_{name.upper()}"):
            replace(settings, **{name: 0})  # type: ignore[arg-type]
