"""What a dataset-limited key may see: everything of another dataset answers exactly as a
missing id would, so its existence does not leak.

Enforced where a client's id becomes a row, not per resolver:

* ``services.reads`` - the DataLoaders' rows by id and children by parent (every nested object
  and ``Query.dataset``/``modelRun``), the dataset pages and counts, dataset by name;
* ``services.catalog``, ``services.uploads``, ``services.custom_metrics``,
  ``services.evaluation.lifecycle`` and ``services.jobs`` - the lookups of the ids a mutation
  or a job query names (a dataset, run, job of another dataset is NotFound / null).

Everything else is reached through one of those rows (an item's annotations, a run's metrics,
a slice checked against its run's dataset), so it needs no check of its own. Models belong to
no dataset: a limited key sees every model, and of its runs only those on its datasets.

The limit comes from the request (``sliceboard.principal.dataset_restriction``); code outside a
request - jobs, the CLI - sees everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from sliceboard.principal import dataset_restriction
from sliceboard.storage import reads, tables

RowT = TypeVar("RowT", bound=SQLModel)


def restriction() -> frozenset[int] | None:
    """The datasets the current request may see; None: all."""
    return dataset_restriction()


def sees_dataset(dataset_id: int | None) -> bool:
    allowed = dataset_restriction()
    return allowed is None or dataset_id in allowed


async def visible(session: AsyncSession, rows: Sequence[RowT | None]) -> list[RowT | None]:
    """``rows`` with each row the current request may not see replaced by None."""
    allowed = dataset_restriction()
    if allowed is None:
        return list(rows)
    owners = await _datasets_of(session, rows)
    return [
        row if row is not None and _shown(owners.get(id(row)), allowed) else None for row in rows
    ]


def _shown(owner: int | None, allowed: frozenset[int]) -> bool:
    """``owner`` None: a row of no dataset (a model), which every key sees."""
    return owner is None or owner in allowed


async def _datasets_of(session: AsyncSession, rows: Sequence[SQLModel | None]) -> dict[int, int]:
    """``id(row)`` -> its dataset id (0: none that can be shown); a model is absent."""
    owners: dict[int, int] = {}
    runs_of: dict[int, list[SQLModel]] = {}
    jobs_without_run: list[tables.Job] = []
    for row in rows:
        if isinstance(row, tables.Dataset):
            owners[id(row)] = int(row.id or 0)
        elif isinstance(row, tables.Item | tables.Annotation | tables.ModelRun | tables.Slice):
            owners[id(row)] = int(row.dataset_id)
        elif isinstance(row, tables.Prediction):
            runs_of.setdefault(row.model_run_id, []).append(row)
        elif isinstance(row, tables.Job):
            if row.model_run_id is not None:
                runs_of.setdefault(row.model_run_id, []).append(row)
            else:
                jobs_without_run.append(row)
        elif row is not None and not isinstance(row, tables.Model):
            owners[id(row)] = 0  # a kind this module does not know: hidden from limited keys
    if runs_of:
        found = await reads.rows_by_ids(session=session, table=tables.ModelRun, ids=list(runs_of))
        run_dataset = {run.id: run.dataset_id for run in found}
        for run_id, dependents in runs_of.items():
            for row in dependents:
                owners[id(row)] = int(run_dataset.get(run_id, 0))
    for job in jobs_without_run:
        # A job of no run (an import or export) names its dataset in its payload, if any.
        payload = job.payload or {}
        dataset_id = payload.get("dataset_id", payload.get("datasetId"))
        if isinstance(dataset_id, str) and dataset_id.isdigit():
            dataset_id = int(dataset_id)
        owners[id(job)] = dataset_id if isinstance(dataset_id, int) else 0
    return owners


async def visible_row(session: AsyncSession, row: RowT | None) -> RowT | None:
    return (await visible(session, [row]))[0]
