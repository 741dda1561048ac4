"""The semantic masks of an upload batch: read, decoded and checked whole before anything is
written, then stored once each (by the digest of their pixels) and named in their rows.

Rules, each an issue with the row's path: at most ``SLICEBOARD_MAX_MASKS_PER_BATCH`` masks per
batch; one semantic mask per item (ground truth) or per item and run (predictions): another
annotationId on the same item is refused, the same one is an upsert; the item must have its
width and height; the mask's source must be readable (``mask_sources``) and its pixels valid
(``mask_decoding``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.input_limits import InputLimits, input_limits
from sliceboard.services.mask_decoding import DecodedMask, MaskProblem, decode_mask
from sliceboard.services.mask_sources import MaskSourceError, read_mask_source
from sliceboard.services.validation.issues import Issues
from sliceboard.services.validation.semantic import MASK_SOURCE
from sliceboard.storage import label_maps as sql

SEMANTIC = "SEMANTIC"
#: Masks read and decoded at the same time (fetches overlap; decoding runs on threads).
CONCURRENCY = 4

Row = dict[str, Any]


def _row_path(row: Row) -> str:
    """``annotations[3].semanticSegmentation`` from the pending source's path."""
    path: str = row["geometry"][MASK_SOURCE][0]
    return path.rsplit(".", 1)[0]


async def _load(
    row: Row, size: tuple[int, int], ignore_index: int, limits: InputLimits
) -> DecodedMask | tuple[str, str]:
    """The decoded mask, or (path, problem)."""
    path, source = row["geometry"][MASK_SOURCE]
    try:
        data = await read_mask_source(source, limits)
    except MaskSourceError as error:
        return path, str(error)
    declared = {segment["index"] for segment in row["geometry"]["segments"]}
    try:
        return await asyncio.to_thread(
            decode_mask,
            data,
            height=size[0],
            width=size[1],
            declared=declared,
            ignore_index=ignore_index,
        )
    except MaskProblem as error:
        return path, str(error)


async def resolve_masks(
    session: AsyncSession,
    rows: Sequence[Row],
    *,
    batch_name: str,
    ignore_index: int,
    model_run_id: int | None,
) -> dict[str, dict[str, Any]]:
    """Reads and checks every pending mask of ``rows`` (after ``_attach_items``), raises
    InvalidInput with every problem, else completes the rows in place (the mask's digest in
    their geometry) and returns the label maps to store by digest (``store_label_maps``)."""
    pending = [row for row in rows if row["type"] == SEMANTIC]
    if not pending:
        return {}
    limits = input_limits()
    issues = Issues()
    if len(pending) > limits.masks_per_batch:
        issues.add(
            batch_name,
            f"{len(pending)} semantic masks exceed the limit of {limits.masks_per_batch} per "
            "batch (SLICEBOARD_MAX_MASKS_PER_BATCH)",
        )
        issues.raise_if_any()
    item_ids = [row["item_id"] for row in pending]
    existing = await sql.select_semantic_keys(
        session=session, item_ids=item_ids, model_run_id=model_run_id
    )
    sizes = await sql.select_item_sizes(session=session, item_ids=item_ids)
    first: dict[int, str] = {}
    ready: list[tuple[Row, tuple[int, int]]] = []
    for row in pending:
        path, item_id, key = _row_path(row), row["item_id"], row["annotation_id"]
        other = sorted(existing.get(item_id, set()) - {key})
        if item_id in first:
            issues.add(
                path, f"the item already has a semantic mask in this batch ({first[item_id]})"
            )
            continue
        first[item_id] = path
        if other:
            issues.add(
                path,
                f"the item already has semantic mask {other[0]!r}; one per item (send that "
                "annotationId to replace it)",
            )
            continue
        height, width = sizes.get(item_id, (None, None))
        if height is None or width is None:
            issues.add(path, "the item has no width and height; set them before its mask")
            continue
        ready.append((row, (height, width)))
    issues.raise_if_any()

    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(row: Row, size: tuple[int, int]) -> DecodedMask | tuple[str, str]:
        async with gate:
            return await _load(row, size, ignore_index, limits)

    results = await asyncio.gather(*(one(row, size) for row, size in ready))
    for result in results:
        if isinstance(result, tuple):
            issues.add(*result)
    issues.raise_if_any()

    blobs: dict[str, dict[str, Any]] = {}
    for (row, (height, width)), result in zip(ready, results, strict=True):
        assert isinstance(result, DecodedMask)
        label_map = result.label_map
        digest = label_map.digest()
        if digest not in blobs:
            blobs[digest] = {
                "digest": digest,
                "height": height,
                "width": width,
                "runs": label_map.runs,
                "data": label_map.to_bytes(),
            }
        geometry = row["geometry"]
        del geometry[MASK_SOURCE]
        row["geometry"] = {"mask": digest, "height": height, "width": width, **geometry}
        if row["area"] is None:
            row["area"] = float(result.labelled_pixels)
    return blobs


async def store_label_maps(
    session: AsyncSession, blobs: dict[str, dict[str, Any]], written: Sequence[Row]
) -> None:
    """Stores the label maps the written rows name (a row left as it was stores nothing)."""
    named = {row["geometry"]["mask"] for row in written if row["type"] == SEMANTIC}
    await sql.insert_label_maps(
        session=session, rows=[blob for digest, blob in blobs.items() if digest in named]
    )
