"""An evaluation computed in a process that answers queries is held as it is stored, with its
whole-run report at the default thresholds computed: the first metrics query after it reads
memory (no snapshot load, no report part to wait for). A process that only runs jobs keeps
nothing."""

from __future__ import annotations

import numpy as np

from sliceboard.evaluation import coco_summary
from sliceboard.jobs.evaluate import run_evaluation_job
from sliceboard.jobs.runner import JobRunner
from sliceboard.runtime import Runtime
from sliceboard.services.evaluation import lifecycle, results
from sliceboard.services.evaluation.options import EvaluationOptions
from sliceboard.services.evaluation.report_parts import COCO_FIELDS
from sliceboard.storage.db import read_session, transaction
from sliceboard.storage.tables import ModelRun
from tests.support.coco_cases import make_case
from tests.support.evaluation_upload import upload_case


async def _evaluate(runtime: Runtime) -> tuple[int, int]:
    """Uploads a case and runs its evaluation job; (run row id, evaluation id)."""
    _dataset, run_id = await upload_case(runtime, make_case(5))
    async with transaction(runtime.sessions) as session:
        job = await lifecycle.request_evaluation(
            session, model_run_id=run_id, options=EvaluationOptions(), max_attempts=1
        )
    assert job.payload is not None
    runner = JobRunner(runtime, {"evaluate": run_evaluation_job}, retry_base_seconds=0.0)
    assert await runner.run_next() == job.id
    return int(run_id), int(job.payload["evaluation_id"])


async def test_the_first_metrics_query_after_an_evaluation_reads_memory(runtime: Runtime) -> None:
    cache = runtime.snapshot_cache
    run_id, evaluation_id = await _evaluate(runtime)
    assert cache.size() == 1 and cache.misses == 1  # held from the job's own blob
    assert runtime.compute.report_worker.alive()
    async with read_session(runtime.sessions) as session:
        run = await session.get(ModelRun, run_id)
        assert run is not None and run.current_evaluation_id == evaluation_id
        report = await results.metrics_report(
            session,
            cache,
            run=run,
            filter=None,
            slice_id=None,
            iou_threshold=0.5,
            confidence_threshold=0.0,
            labels=None,
        )
    assert cache.misses == 1  # not loaded again
    summary, thresholds = report._summary(), report._thresholds()
    assert summary.done() and thresholds.done()  # computed before the job ended
    snapshot = await cache.adopt(evaluation_id, b"")  # held: the blob is not read
    expected = coco_summary(snapshot.table, None, "bbox")
    assert [(await report.coco())[name] for name in COCO_FIELDS] == [
        float(s) for s in expected.stats
    ]
    rows = await report.per_label()
    assert [r.label for r in rows] == [snapshot.label_names[int(k)] for k in expected.labels]
    assert np.array_equal(
        [-1.0 if r.ap is None else r.ap for r in rows],
        np.where(np.isnan(expected.ap) | (expected.ap < 0), -1.0, expected.ap),
    )


async def test_a_process_that_only_runs_jobs_keeps_nothing(runtime: Runtime) -> None:
    cache = runtime.snapshot_cache
    cache.keeps_new_evaluations = False
    await _evaluate(runtime)
    assert cache.size() == 0 and cache.misses == 0
    assert not runtime.compute.report_worker.alive()
