"""Evaluation options from the GraphQL input to the stored row and back to ``Evaluation.options``
(DESIGN.md §3): converted once on the way in, shown as stored."""

from __future__ import annotations

from sliceboard.storage import evaluations
from sliceboard.storage.db import read_session, transaction
from tests.support.factories import setup_dataset, setup_run
from tests.support.graphql import Executor

REQUEST = """mutation($r: ID!, $o: EvaluationOptions) { calculateEvaluationMetrics(modelRunId: $r, options: $o) {
  __typename ... on Job { id } ... on InvalidInputError { issues { path } } } }"""
SHOWN = "query($r: ID!) { modelRun(id: $r) { evaluation { version status options } } }"


async def _request(execute: Executor, run_id: str, options: object, version: int) -> None:
    """Queues an evaluation and makes it the run's visible one (no job runs here); in a fresh
    database with one run, version ``k`` is evaluation row ``k``."""
    data = await execute.data(REQUEST, {"r": run_id, "o": options})
    assert data["calculateEvaluationMetrics"]["__typename"] == "Job"
    async with transaction(execute.runtime.sessions) as session:
        await evaluations.show_unless_newer_shown(
            session=session, model_run_id=int(run_id), evaluation_id=version, version=version
        )


async def test_options_are_stored_in_contract_names_and_shown_as_stored(
    execute: Executor,
) -> None:
    sessions = execute.runtime.sessions
    run_id = await setup_run(sessions, await setup_dataset(sessions, ["a"]))

    await _request(execute, run_id, None, version=1)
    shown = await execute.data(SHOWN, {"r": run_id})
    assert shown["modelRun"]["evaluation"] == {
        "version": 1,
        "status": "QUEUED",
        "options": {
            "matching": "CONFIDENCE",
            "classAgnostic": False,
            "allowedLabelMatches": [],
            "iouThresholds": None,
            "maxDetections": 100,
            "emptyClasses": "EXCLUDE",
        },
    }

    chosen = {
        "matching": "NO_FALLBACK",
        "classAgnostic": True,
        "allowedLabelMatches": [{"groundTruthLabel": "cat", "modelPredictionLabel": "dog"}],
        "iouThresholds": [0.75, 0.25],
        "maxDetections": 7,
        "emptyClasses": "INCLUDE",
    }
    await _request(execute, run_id, chosen, version=2)
    expected = {
        "matching": "NO_FALLBACK",
        "classAgnostic": True,
        "allowedLabelMatches": [["cat", "dog"]],
        "iouThresholds": [0.25, 0.75],
        "maxDetections": 7,
        "emptyClasses": "INCLUDE",
    }
    shown = await execute.data(SHOWN, {"r": run_id})
    assert shown["modelRun"]["evaluation"]["version"] == 2
    assert shown["modelRun"]["evaluation"]["options"] == expected
    async with read_session(sessions) as session:
        row = await evaluations.select_evaluation(session=session, evaluation_id=2)
    assert row is not None and row.version == 2 and row.options == expected


async def test_bad_options_are_an_invalid_input_payload(execute: Executor) -> None:
    sessions = execute.runtime.sessions
    run_id = await setup_run(sessions, await setup_dataset(sessions, ["a"]))
    data = await execute.data(
        REQUEST,
        {
            "r": run_id,
            "o": {
                "iouThresholds": [0.5, 0.5],
                "allowedLabelMatches": [{"groundTruthLabel": "", "modelPredictionLabel": "b"}],
            },
        },
    )
    assert data["calculateEvaluationMetrics"] == {
        "__typename": "InvalidInputError",
        "issues": [
            {"path": "options.allowedLabelMatches[0].groundTruthLabel"},
            {"path": "options.iouThresholds"},
        ],
    }
