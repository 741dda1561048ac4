"""Reports of the same items at other thresholds share one COCO summary (a threshold slider asks
for a report per threshold; per-label AP does not depend on it), while their threshold metrics
are their own."""

from __future__ import annotations

from typing import Any

import pytest

from sliceboard.jobs.evaluate import run_evaluation_job
from sliceboard.jobs.runner import JobRunner
from sliceboard.runtime import Runtime
from sliceboard.services.evaluation import lifecycle, results
from sliceboard.services.evaluation.options import EvaluationOptions
from sliceboard.storage.db import read_session, transaction
from sliceboard.storage.tables import ModelRun
from tests.support.coco_cases import make_case
from tests.support.evaluation_upload import upload_case


async def _report(runtime: Runtime, run_id: int, iou: float, filter: Any) -> results.Report:
    async with read_session(runtime.sessions) as session:
        run = await session.get(ModelRun, run_id)
        assert run is not None
        return await results.metrics_report(
            session,
            runtime.snapshot_cache,
            run=run,
            filter=filter,
            slice_id=None,
            iou_threshold=iou,
            confidence_threshold=0.0,
            labels=None,
        )


async def test_a_summary_is_computed_once_for_every_threshold(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    _dataset, run_id = await upload_case(runtime, make_case(5))
    async with transaction(runtime.sessions) as session:
        job = await lifecycle.request_evaluation(
            session, model_run_id=run_id, options=EvaluationOptions(), max_attempts=1
        )
    assert await JobRunner(runtime, {"evaluate": run_evaluation_job}).run_next() == job.id
    cache = runtime.snapshot_cache
    parts: list[str] = []
    original = type(cache).part

    async def counted(
        self: Any, rank: int, snapshot: Any, shared: Any, part: str, args: Any
    ) -> Any:
        parts.append(part)
        return await original(self, rank, snapshot, shared, part, args)

    monkeypatch.setattr(type(cache), "part", counted)
    few = {"metadata": {"field": "split", "op": "EQ", "value": "even"}}
    rows = {}
    for iou in (0.55, 0.75, 0.9):
        rows[iou] = await (await _report(runtime, int(run_id), iou, few)).per_label()
    assert parts.count("summary") == 1 and parts.count("thresholds") == 3, parts
    aps = {iou: [(r.label, r.ap, r.ap50, r.ar) for r in found] for iou, found in rows.items()}
    assert aps[0.55] == aps[0.75] == aps[0.9]
    assert [r.true_positives for r in rows[0.55]] != [r.true_positives for r in rows[0.9]]
    # Other items have a summary of their own.
    parts.clear()
    await (
        await _report(
            runtime, int(run_id), 0.55, {"metadata": {"field": "split", "op": "EQ", "value": "odd"}}
        )
    ).per_label()
    assert parts.count("summary") == 1, parts
