"""The ``evaluate`` job: load a run's rows, check the memory they will take against the budget,
match them in a worker process (the event loop stays responsive), publish the new evaluation
version.

Redelivered attempts are harmless: a version that already succeeded is left alone. A
cancellation interrupts the running attempt (the runner cancels this handler, which kills the
worker); the version then ends CANCELLED. A worker that dies fails the attempt with how it
died, and the version is FAILED with that message after the job's last attempt.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sliceboard.compute.process_pool import WorkerDied
from sliceboard.evaluation import EvaluationInputError
from sliceboard.jobs.context import JobContext, JobFailed
from sliceboard.services.evaluation import lifecycle as service
from sliceboard.services.evaluation.inputs import UnsupportedRun
from sliceboard.services.evaluation.memory import MB, estimate_memory
from sliceboard.services.evaluation.results import keep_new_evaluation

logger = logging.getLogger(__name__)


async def run_evaluation_job(context: JobContext) -> None:
    evaluation_id = int(context.payload["evaluation_id"])
    try:
        await _evaluate(context, evaluation_id)
    except asyncio.CancelledError:
        if context.cancel_requested:
            await _finish(context, evaluation_id, "CANCELLED")
        raise
    except WorkerDied as exc:
        if context.attempt >= context.max_attempts:
            attempt = f"attempt {context.attempt} of {context.max_attempts}"
            await _finish(context, evaluation_id, "FAILED", f"{exc} ({attempt})")
        raise


async def _evaluate(context: JobContext, evaluation_id: int) -> None:
    started = time.perf_counter()
    try:
        async with context.runtime.reading() as session:
            work = await service.load_work(session, evaluation_id=evaluation_id)
    except UnsupportedRun as exc:
        raise JobFailed(str(exc)) from exc
    if work is None:
        return
    budget = context.runtime.settings.evaluation_memory_mb
    estimate = estimate_memory(work.data, work.options)
    if estimate.bytes > budget * MB:
        message = estimate.over_budget_message(budget)
        await _finish(context, evaluation_id, "FAILED", message)
        raise JobFailed(message)
    async with context.runtime.unit_of_work() as session:
        await service.set_status(session, evaluation_id=evaluation_id, status="RUNNING")
    cache = context.runtime.snapshot_cache
    if cache.keeps_new_evaluations:
        cache.start_worker()  # its start-up overlaps the matching
    loaded = time.perf_counter()
    semantic = work.data.semantic
    masks = (
        ""
        if semantic is None
        else f", {len(semantic.predictions)} predicted and {len(semantic.ground_truth)} "
        "ground-truth semantic masks"
    )
    await context.report(
        0.1,
        f"loaded {len(work.data.predictions.ids)} predictions and "
        f"{len(work.data.ground_truth.ids)} ground truths{masks}",
    )
    if await context.cancelled():
        await _finish(context, evaluation_id, "CANCELLED")
        return
    try:
        blob, timings = await context.runtime.compute.process_pool.run(
            service.compute_snapshot, work.data, work.options
        )
    except (UnsupportedRun, EvaluationInputError, ValueError) as exc:
        await _finish(context, evaluation_id, "FAILED", str(exc))
        raise JobFailed(str(exc)) from exc
    if await context.cancelled():
        await _finish(context, evaluation_id, "CANCELLED")
        return
    await context.report(0.9, "matched; publishing the results")
    timings = {"loadSeconds": loaded - started, **timings}
    # Held and its whole-run report computed while the results are stored: the first query
    # after the evaluation reads memory.
    kept = (
        asyncio.ensure_future(keep_new_evaluation(cache, evaluation_id, blob))
        if cache.keeps_new_evaluations
        else None
    )
    async with context.runtime.unit_of_work() as session:
        await service.publish(
            session,
            work=work,
            blob=blob,
            timings={**timings, "totalSeconds": time.perf_counter() - started},
        )
    if kept is not None:
        try:
            await kept
        except Exception:  # the first query loads it instead
            logger.warning("could not keep evaluation %s in memory", evaluation_id, exc_info=True)
    context.runtime.notifier.notify(("evaluation", work.run_id))
    await context.report(
        1.0,
        f"evaluation version {work.version} published: {len(work.data.predictions.ids)} "
        f"predictions against {len(work.data.ground_truth.ids)} ground truths{masks}",
    )


async def _finish(
    context: JobContext, evaluation_id: int, status: str, error: str | None = None
) -> None:
    async with context.runtime.unit_of_work() as session:
        await service.set_status(session, evaluation_id=evaluation_id, status=status, error=error)
