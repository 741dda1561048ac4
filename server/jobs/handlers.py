"""The registry of job kinds: kind -> async handler.

A handler gets a :class:`~sliceboard.jobs.context.JobContext`, does its work (CPU-heavy parts off
the event loop, see :mod:`sliceboard.compute.process_pool`), opens its own transactions through
``context.runtime.unit_of_work()`` and returns; raising retries the job, raising
:class:`~sliceboard.jobs.context.JobFailed` fails it for good. Handlers must tolerate running more
than once for the same job: delivery is at least once.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from sliceboard.jobs.context import JobContext

Handler = Callable[[JobContext], Coroutine[Any, Any, None]]


def default_handlers() -> dict[str, Handler]:
    """The kinds a stock server runs. Each entry calls into a service."""
    from sliceboard.jobs.evaluate import run_evaluation_job  # it imports this module's context
    from sliceboard.jobs.exports import run_export_job
    from sliceboard.jobs.imports import run_import_job

    return {"evaluate": run_evaluation_job, "IMPORT": run_import_job, "EXPORT": run_export_job}
