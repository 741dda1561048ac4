"""Creating and deleting the named things: datasets, models, model runs, slices.

Names a user chooses are unique where DESIGN.md says so (dataset name, model referenceId,
run name per model and dataset, slice name per dataset); a taken one raises Conflict.
Issue paths name the GraphQL input (``input.name``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.errors import Conflict, InvalidInput, NotFound
from sliceboard.services.ids import require_id
from sliceboard.services.validation import Issues
from sliceboard.services.validation.fields import (
    LABEL_MAX,
    REFERENCE_ID_MAX,
    check_metadata,
    check_text,
)
from sliceboard.services.validation.semantic import MAX_INDEX
from sliceboard.services.visibility import sees_dataset
from sliceboard.storage import catalog_writes as sql
from sliceboard.storage import upload_writes
from sliceboard.storage.filters import validate_item_filter
from sliceboard.storage.tables import Dataset, Model, ModelRun, Slice

NAME_MAX = LABEL_MAX  # 255, the column width


async def _dataset(session: AsyncSession, raw_id: str, path: str) -> Dataset:
    dataset = await sql.select_dataset(
        session=session, dataset_id=require_id(raw_id, "Dataset", path)
    )
    if dataset is None or not sees_dataset(dataset.id):
        raise NotFound("Dataset", raw_id, path)
    return dataset


async def create_dataset(
    session: AsyncSession, *, name: str, metadata: object, segmentation_ignore_index: object = 0
) -> Dataset:
    """``segmentation_ignore_index``: the semantic-mask index that means "unlabelled" (0..65535),
    fixed for the dataset's life, since every stored mask was checked against it."""
    issues = Issues()
    checked_name = check_text(name, "input.name", issues, max_length=NAME_MAX)
    checked_metadata = check_metadata(metadata, "input.metadata", issues)
    ignore = segmentation_ignore_index
    if type(ignore) is not int or not 0 <= ignore <= MAX_INDEX:
        issues.add("input.segmentationIgnoreIndex", f"must be an integer from 0 to {MAX_INDEX}")
    issues.raise_if_any()
    assert checked_name is not None and isinstance(ignore, int)
    new_id = await sql.insert_dataset(
        session=session,
        name=checked_name,
        metadata=checked_metadata,
        segmentation_ignore_index=ignore,
    )
    if new_id is None:
        raise Conflict(f"a dataset named {checked_name!r} already exists")
    return await _dataset(session, str(new_id), "input")


async def create_model(
    session: AsyncSession, *, name: str, reference_id: str, metadata: object
) -> Model:
    issues = Issues()
    checked_name = check_text(name, "input.name", issues, max_length=NAME_MAX)
    checked_ref = check_text(reference_id, "input.referenceId", issues, max_length=NAME_MAX)
    checked_metadata = check_metadata(metadata, "input.metadata", issues)
    issues.raise_if_any()
    assert checked_name is not None and checked_ref is not None
    new_id = await sql.insert_model(
        session=session, name=checked_name, reference_id=checked_ref, metadata=checked_metadata
    )
    if new_id is None:
        raise Conflict(f"a model with referenceId {checked_ref!r} already exists")
    model = await sql.select_model(session=session, model_id=new_id)
    assert model is not None
    return model


async def create_model_run(
    session: AsyncSession, *, model_id: str, dataset_id: str, name: str
) -> ModelRun:
    model = await sql.select_model(
        session=session, model_id=require_id(model_id, "Model", "input.modelId")
    )
    if model is None:
        raise NotFound("Model", model_id, "input.modelId")
    dataset = await _dataset(session, dataset_id, "input.datasetId")
    issues = Issues()
    checked_name = check_text(name, "input.name", issues, max_length=NAME_MAX)
    issues.raise_if_any()
    assert checked_name is not None and model.id is not None and dataset.id is not None
    new_id = await sql.insert_model_run(
        session=session, model_id=model.id, dataset_id=dataset.id, name=checked_name
    )
    if new_id is None:
        raise Conflict(
            f"model {model.reference_id!r} already has a run named {checked_name!r} "
            f"on dataset {dataset.name!r}"
        )
    run = await sql.select_model_run(session=session, model_run_id=new_id)
    assert run is not None
    return run


def _check_filter(filter: object, issues: Issues) -> dict[str, Any] | None:
    if filter is None:
        return None
    if not isinstance(filter, dict):
        issues.add("input.filter", "must be an item filter object")
        return None
    try:
        validate_item_filter(filter, "input.filter")
    except InvalidInput as error:
        issues.items.extend(error.issues)
        return None
    return filter


async def create_slice(
    session: AsyncSession,
    *,
    dataset_id: str,
    name: str,
    filter: dict[str, Any] | None,
    reference_ids: list[str] | None,
) -> Slice:
    """A saved filter (dynamic), a fixed list of referenceIds, or both (items must satisfy both).

    At least one is required; every referenceId must name an item of the dataset now
    (an issue at ``input.referenceIds[i]`` otherwise) and appear once.
    """
    dataset = await _dataset(session, dataset_id, "input.datasetId")
    assert dataset.id is not None
    issues = Issues()
    checked_name = check_text(name, "input.name", issues, max_length=NAME_MAX)
    checked_filter = _check_filter(filter, issues)
    if filter is None and reference_ids is None:
        issues.add("input", "give a filter, referenceIds, or both")
    refs: list[str] = []
    if reference_ids is not None:
        if not isinstance(reference_ids, list) or not reference_ids:
            issues.add("input.referenceIds", "must be a non-empty list of referenceIds")
        else:
            refs = _check_reference_ids(reference_ids, issues)
            found = await upload_writes.select_item_ids(
                session=session, dataset_id=dataset.id, reference_ids=refs
            )
            for i, ref in enumerate(reference_ids):
                if isinstance(ref, str) and ref and ref not in found:
                    issues.add(f"input.referenceIds[{i}]", f"no item with referenceId {ref!r}")
    issues.raise_if_any()
    assert checked_name is not None
    new_id = await sql.insert_slice(
        session=session,
        dataset_id=dataset.id,
        name=checked_name,
        filter=checked_filter,
        reference_ids=refs if reference_ids is not None else None,
    )
    if new_id is None:
        raise Conflict(f"dataset {dataset.name!r} already has a slice named {checked_name!r}")
    created = await sql.select_slice(session=session, slice_id=new_id)
    assert created is not None
    return created


def _check_reference_ids(reference_ids: list[Any], issues: Issues) -> list[str]:
    refs: list[str] = []
    first: dict[str, int] = {}
    for i, ref in enumerate(reference_ids):
        checked = check_text(ref, f"input.referenceIds[{i}]", issues, max_length=REFERENCE_ID_MAX)
        if checked is None:
            continue
        seen = first.setdefault(checked, i)
        if seen != i:
            issues.add(f"input.referenceIds[{i}]", f"duplicate of input.referenceIds[{seen}]")
        else:
            refs.append(checked)
    return refs


async def delete_dataset(session: AsyncSession, *, dataset_id: str) -> int:
    """Deletes a dataset with everything in it (items, annotations, runs, slices, ...)."""
    row_id = require_id(dataset_id, "Dataset", "id")
    if not sees_dataset(row_id) or not await sql.delete_dataset(session=session, dataset_id=row_id):
        raise NotFound("Dataset", dataset_id, "id")
    return row_id
