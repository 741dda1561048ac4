"""Upserts of items, ground truth and predictions, and the choice of a run's ground truth.

Every upsert is idempotent on the user's keys — (dataset, referenceId), (item, annotationId),
(run, item, annotationId) — and reports ``UpsertCounts``:

* ``new``: keys that did not exist; they are inserted.
* ``update=False``: existing keys are left untouched and counted as ``ignored``.
* ``update=True``: existing keys whose values differ are replaced (``updated``); an existing row
  identical to the one sent is **ignored**, not rewritten, so re-sending a batch with
  ``update=True`` also reports ``0 new, 0 updated, N ignored`` and bumps no version.

A batch is validated whole (every issue, with its path) before anything is written, and is
written with one statement per table inside the caller's transaction; services never commit.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.errors import NotFound
from sliceboard.services.ids import require_id
from sliceboard.services.semantic_masks import resolve_masks, store_label_maps
from sliceboard.services.validation import (
    Issues,
    check_row_limit,
    validate_annotations,
    validate_items,
    validate_predictions,
)
from sliceboard.services.validation.fast import gc_paused
from sliceboard.services.visibility import sees_dataset
from sliceboard.storage import catalog_writes as catalog_sql
from sliceboard.storage import label_maps as label_map_sql
from sliceboard.storage import upload_writes as sql
from sliceboard.storage.tables import Dataset, ModelRun, utcnow

Row = dict[str, Any]
_P = ParamSpec("_P")
_T = TypeVar("_T")


def _without_collections(
    upsert: Callable[_P, Awaitable[_T]],
) -> Callable[_P, Awaitable[_T]]:
    """Runs an upsert with the cyclic garbage collector paused. A batch's rows (tens of
    thousands of dicts and lists, none of them cyclic) then die by reference counting when the
    upsert returns instead of being walked by collections while they live; other tasks that
    run during its awaits only have their cyclic garbage collected a little later."""

    @functools.wraps(upsert)
    async def paused(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        with gc_paused():
            return await upsert(*args, **kwargs)

    return paused


@dataclass(frozen=True)
class UpsertCounts:
    new: int
    updated: int
    ignored: int


async def _locked_dataset(session: AsyncSession, dataset_id: str) -> Dataset:
    dataset = await sql.lock_dataset(
        session=session, dataset_id=require_id(dataset_id, "Dataset", "datasetId")
    )
    if dataset is None or not sees_dataset(dataset.id):
        raise NotFound("Dataset", dataset_id, "datasetId")
    return dataset


async def _locked_run(session: AsyncSession, model_run_id: str) -> ModelRun:
    run = await sql.lock_model_run(
        session=session, model_run_id=require_id(model_run_id, "ModelRun", "modelRunId")
    )
    if run is None or not sees_dataset(run.dataset_id):
        raise NotFound("ModelRun", model_run_id, "modelRunId")
    return run


def _partition(
    rows: list[Row],
    existing: dict[Any, Row],
    keys: Sequence[Any],
    values: Sequence[str],
    update: bool,
) -> tuple[list[Row], UpsertCounts]:
    """The rows to write (batch order kept) and the counts; see the module docstring."""
    to_write: list[Row] = []
    new = updated = 0
    for row, key in zip(rows, keys, strict=True):
        old = existing.get(key)
        if old is None:
            new += 1
            to_write.append(row)
        elif update and any(row[name] != old[name] for name in values):
            updated += 1
            to_write.append(row)
    return to_write, UpsertCounts(new=new, updated=updated, ignored=len(rows) - new - updated)


async def _item_ids(
    session: AsyncSession, dataset_id: int, raw_rows: list[Any], name: str, issues: Issues
) -> dict[str, int]:
    """Resolves every row's referenceId in one query; unknown ones become issues."""
    refs = [raw.get("reference_id") if isinstance(raw, dict) else None for raw in raw_rows]
    wanted = [ref for ref in dict.fromkeys(refs) if isinstance(ref, str) and ref]
    found = await sql.select_item_ids(session=session, dataset_id=dataset_id, reference_ids=wanted)
    if len(found) < len(wanted):  # else every one was found: no issue to look for
        for i, ref in enumerate(refs):
            if isinstance(ref, str) and ref and ref not in found:
                issues.add(
                    f"{name}[{i}].referenceId", f"no item with referenceId {ref!r} in this dataset"
                )
    return found


def _attach_items(rows: list[Row], item_ids: dict[str, int], extra: Row) -> list[tuple[int, str]]:
    """Turns each row's reference_id into item_id (in place) and returns the rows' keys."""
    keys: list[tuple[int, str]] = []
    for row in rows:
        item_id = item_ids[row.pop("reference_id")]
        row["item_id"] = item_id
        row.update(extra)
        keys.append((item_id, row["annotation_id"]))
    return keys


@_without_collections
async def upsert_items(
    session: AsyncSession,
    *,
    dataset_id: str,
    items: list[Any],
    update: bool,
    max_rows: int,
    validated: bool = False,
) -> UpsertCounts:
    """``validated``: the rows are ``validate_items``' output already (a file import's second
    pass), so they are not checked again."""
    dataset = await _locked_dataset(session, dataset_id)
    assert dataset.id is not None
    raw_rows = check_row_limit(items, "items", max_rows)
    issues = Issues()
    rows = raw_rows if validated else validate_items(raw_rows, issues)
    issues.raise_if_any()
    refs = [row["reference_id"] for row in rows]
    if update:
        existing: dict[Any, Row] = await sql.select_items(
            session=session, dataset_id=dataset.id, reference_ids=refs
        )
    else:
        found = await sql.select_item_ids(
            session=session, dataset_id=dataset.id, reference_ids=refs
        )
        existing = {ref: {} for ref in found}
    to_write, counts = _partition(rows, existing, refs, sql.ITEM_VALUES, update)
    now = utcnow()
    for row in to_write:
        row["dataset_id"] = dataset.id
        row["created_at"] = now
    await sql.upsert_item_rows(
        session=session, rows=to_write, update=update, all_new=counts.new == len(to_write)
    )
    if to_write:
        await sql.bump_items_version(session=session, dataset_id=dataset.id)
    return counts


@_without_collections
async def upsert_annotations(
    session: AsyncSession,
    *,
    dataset_id: str,
    annotations: list[Any],
    update: bool,
    max_rows: int,
    validated: bool = False,
) -> UpsertCounts:
    """Ground truth; bumps ``dataset.annotations_version`` when any row is new or replaced.
    ``validated`` as for :func:`upsert_items`."""
    dataset = await _locked_dataset(session, dataset_id)
    assert dataset.id is not None
    raw_rows = check_row_limit(annotations, "annotations", max_rows)
    issues = Issues()
    rows = raw_rows if validated else validate_annotations(raw_rows, issues)
    item_ids = await _item_ids(session, dataset.id, raw_rows, "annotations", issues)
    issues.raise_if_any()
    keys = _attach_items(rows, item_ids, {"dataset_id": dataset.id, "created_at": utcnow()})
    masks = await resolve_masks(
        session,
        rows,
        batch_name="annotations",
        ignore_index=dataset.segmentation_ignore_index,
        model_run_id=None,
    )
    existing = await sql.select_annotation_rows(session=session, keys=keys, with_values=update)
    to_write, counts = _partition(rows, existing, keys, sql.ANNOTATION_VALUES, update)
    if masks:
        await store_label_maps(session, masks, to_write)
    await sql.upsert_annotation_rows(
        session=session, rows=to_write, update=update, all_new=counts.new == len(to_write)
    )
    if to_write:
        await sql.bump_annotations_version(session=session, dataset=dataset)
    return counts


@_without_collections
async def upsert_predictions(
    session: AsyncSession,
    *,
    model_run_id: str,
    predictions: list[Any],
    update: bool,
    max_rows: int,
    validated: bool = False,
) -> UpsertCounts:
    """A run's predictions; bumps ``model_run.data_version`` when any row is new or replaced.

    ``confidence`` may be omitted: it is stored as NULL and the evaluation ranks such a
    prediction as confidence 1.0 (a detector that gives no score is taken at its word).
    """
    run = await _locked_run(session, model_run_id)
    assert run.id is not None
    raw_rows = check_row_limit(predictions, "predictions", max_rows)
    issues = Issues()
    rows = raw_rows if validated else validate_predictions(raw_rows, issues)
    item_ids = await _item_ids(session, run.dataset_id, raw_rows, "predictions", issues)
    issues.raise_if_any()
    keys = _attach_items(rows, item_ids, {"model_run_id": run.id, "created_at": utcnow()})
    masks = await resolve_masks(
        session,
        rows,
        batch_name="predictions",
        ignore_index=await label_map_sql.select_ignore_index(
            session=session, dataset_id=run.dataset_id
        ),
        model_run_id=run.id,
    )
    existing = await sql.select_prediction_rows(
        session=session, model_run_id=run.id, keys=keys, with_values=update
    )
    to_write, counts = _partition(rows, existing, keys, sql.PREDICTION_VALUES, update)
    if masks:
        await store_label_maps(session, masks, to_write)
    await sql.upsert_prediction_rows(
        session=session, rows=to_write, update=update, all_new=counts.new == len(to_write)
    )
    if to_write:
        await sql.bump_data_version(session=session, model_run=run)
    return counts


async def upsert_labels(
    session: AsyncSession, *, model_run_id: str, annotation_ids: list[str] | None, all: bool | None
) -> ModelRun:
    """Chooses the ground truth a run is judged against (Labelbox's ``upsert_labels``).

    * ``all=True`` (no ``annotationIds``): every annotation of the dataset, now and later;
      the explicit set is cleared.
    * ``annotationIds``: the run switches to an explicit set (``labels_all`` False) and these
      are added to it. Coming from "all", the set starts empty, so the first call narrows the
      ground truth to exactly these; later calls extend it. An annotationId names every
      annotation carrying it in the run's dataset (it is unique per item, not per dataset);
      one that names none is an issue at ``annotationIds[i]``.
    * ``all=False`` without ids: switch to the explicit set as it stands (empty at first).

    Bumps ``model_run.data_version`` when the ground-truth set changed.
    """
    run = await _locked_run(session, model_run_id)
    assert run.id is not None
    issues = Issues()
    if all and annotation_ids:
        issues.add("annotationIds", "give either annotationIds or all: true, not both")
    if not all and annotation_ids is None and all is None:
        issues.add("annotationIds", "give annotationIds or all")
    issues.raise_if_any()
    if all:
        changed = not run.labels_all
        await catalog_sql.delete_run_labels(session=session, model_run_id=run.id)
        await catalog_sql.set_labels_all(session=session, model_run=run, labels_all=True)
    else:
        ids = annotation_ids or []
        for i, value in enumerate(ids):
            if not isinstance(value, str) or not value:
                issues.add(f"annotationIds[{i}]", "must be a non-empty string")
        issues.raise_if_any()
        found = await catalog_sql.select_annotation_pks(
            session=session, dataset_id=run.dataset_id, annotation_ids=list(dict.fromkeys(ids))
        )
        for i, value in enumerate(ids):
            if value not in found:
                issues.add(f"annotationIds[{i}]", f"no annotation {value!r} in the run's dataset")
        issues.raise_if_any()
        current = (
            set()
            if run.labels_all
            else await catalog_sql.select_run_label_pks(session=session, model_run_id=run.id)
        )
        if run.labels_all:
            await catalog_sql.delete_run_labels(session=session, model_run_id=run.id)
        added = [pk for value in dict.fromkeys(ids) for pk in found[value] if pk not in current]
        changed = run.labels_all or bool(added)
        await catalog_sql.insert_run_labels(
            session=session, model_run_id=run.id, annotation_pks=added
        )
        await catalog_sql.set_labels_all(session=session, model_run=run, labels_all=False)
    if changed:
        await sql.bump_data_version(session=session, model_run=run)
    return run
