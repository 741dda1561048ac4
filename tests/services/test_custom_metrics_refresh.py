"""The custom-metric cache refreshes incrementally after an upload and answers exactly what a
full load answers (bit for bit), on SQLite and PostgreSQL (the ``sessions`` fixture).

An upload stamps the rows it writes with the run's bumped version (``revision``); a cache at
version V reads only ``revision > V`` and replaces its entries by key.
"""

from __future__ import annotations

import random
import statistics
from typing import cast

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sliceboard.services.custom_metrics import MetricAggregate, aggregate_custom_metrics
from sliceboard.services.custom_metrics_cache import CustomMetricCache
from sliceboard.storage.db import read_session
from sliceboard.storage.tables import CustomMetric, core
from tests.support.custom_metrics_setup import Run, add_predictions, make_run, upload

METRIC = core(CustomMetric)


async def query(
    sessions: async_sessionmaker[AsyncSession],
    run: Run,
    cache: CustomMetricCache,
    refs: list[str] | None = None,
    names: list[str] | None = None,
) -> list[MetricAggregate]:
    async with read_session(sessions) as session:
        return await aggregate_custom_metrics(
            session,
            cache=cache,
            model_run_id=run.run_id,
            item_ids=None if refs is None else [run.item_ids[r] for r in refs],
            names=names,
        )


async def assert_same_as_full_load(
    sessions: async_sessionmaker[AsyncSession],
    run: Run,
    cache: CustomMetricCache,
    slices: list[list[str] | None],
) -> None:
    """Every slice answers exactly (==, no tolerance) what a cache loading the whole run does."""
    for refs in slices:
        assert await query(sessions, run, cache, refs) == await query(
            sessions, run, CustomMetricCache(), refs
        )


def nested_rows(
    rng: random.Random, refs: list[str], name: str = "iou", aggregation: str = "ARITHMETIC_MEAN"
) -> list[dict[str, object]]:
    return [
        {
            "name": name,
            "reference_id": ref,
            "feature_name": feature,
            "subclass_name": sub,
            "value": rng.uniform(0.01, 1.0),
            "aggregation": aggregation,
        }
        for ref in refs
        for feature in ("cat", "dog")
        for sub in ("red", "green", "blue")
    ]


async def test_query_after_upload_and_update_sees_exactly_the_new_values(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    refs = [f"r{i}" for i in range(30)]
    run = await make_run(sessions, refs)
    rng = random.Random(17)
    first = nested_rows(rng, refs) + nested_rows(rng, refs, "gm", "GEOMETRIC_MEAN")
    first += [
        {"name": "cm", "reference_id": r, "confusion": {"tp": 3, "fp": 1, "tn": 0, "fn": 2}}
        for r in refs[:10]
    ]
    await upload(sessions, run, first)
    cache = CustomMetricCache()
    before = {m.name: m for m in await query(sessions, run, cache)}
    assert cache.full_loads == 1

    # Replace every "iou" value of r0..r9 (same keys), add new keys under names that sort
    # before and after the stored ones, a row-level value, and change r0's confusion counts.
    updated = {f"r{i}": 5.0 + i for i in range(10)}
    second: list[dict[str, object]] = [
        {
            "name": "iou",
            "reference_id": ref,
            "feature_name": feature,
            "subclass_name": sub,
            "value": value,
        }
        for ref, value in updated.items()
        for feature in ("cat", "dog")
        for sub in ("red", "green", "blue")
    ]
    second += [
        {"name": "iou", "reference_id": "r10", "feature_name": "ant", "value": 0.5},
        {
            "name": "iou",
            "reference_id": "r11",
            "feature_name": "dog",
            "subclass_name": "aqua",
            "value": 0.25,
        },
        {"name": "iou", "reference_id": "r12", "value": 0.75},
        {"name": "cm", "reference_id": "r0", "confusion": {"tp": 10, "fp": 0, "tn": 0, "fn": 0}},
    ]
    counts = await upload(sessions, run, second)
    assert (counts.updated, counts.new) == (61, 3)
    after = {m.name: m for m in await query(sessions, run, cache)}
    assert (cache.loads, cache.full_loads) == (2, 1)  # refreshed, not reloaded

    # The replaced rows' new values, checked without the cache: r0..r9 have one value each.
    [iou_updated] = await query(sessions, run, cache, list(updated), ["iou"])
    assert iou_updated.name == "iou"
    assert iou_updated.aggregate.value == pytest.approx(statistics.fmean(updated.values()))
    assert iou_updated.aggregate.count == 10
    assert after["gm"] == before["gm"]  # untouched metric, same answer
    assert after["iou"] != before["iou"]
    cm = after["cm"].aggregate.confusion
    assert cm is not None and (cm.tp, cm.fp, cm.fn) == (10 + 9 * 3, 9, 9 * 2)
    [r12] = await query(sessions, run, cache, ["r12"], ["iou"])
    assert (r12.aggregate.value, r12.aggregate.count) == (0.75, 1)
    await assert_same_as_full_load(sessions, run, cache, [None, refs[::2], refs[5:15], ["r11"]])


async def test_upload_stamps_written_rows_with_the_new_version(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    run = await make_run(sessions, ["a", "b"])
    await upload(sessions, run, [{"name": "x", "reference_id": r, "value": 1.0} for r in "ab"])
    await upload(
        sessions,
        run,
        [
            {"name": "x", "reference_id": "a", "value": 1.0},  # unchanged: not written
            {"name": "x", "reference_id": "b", "value": 2.0},
        ],
    )
    async with read_session(sessions) as session:
        rows = (
            await session.execute(
                sa.select(METRIC.c.item_id, METRIC.c.revision).where(
                    METRIC.c.model_run_id == run.run_id
                )
            )
        ).all()
    assert dict(rows) == {run.item_ids["a"]: 1, run.item_ids["b"]: 2}


async def test_shape_change_replaces_the_metric_in_the_cache(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    refs = ["a", "b", "c"]
    run = await make_run(sessions, refs)
    rng = random.Random(3)
    await upload(sessions, run, nested_rows(rng, refs) + nested_rows(rng, refs, "keep"))
    cache = CustomMetricCache()
    await query(sessions, run, cache)
    resum = nested_rows(rng, refs, "iou", "SUM")
    await upload(sessions, run, resum)
    got = {m.name: m for m in await query(sessions, run, cache)}
    assert got["iou"].aggregation.value == "SUM"
    assert got["iou"].aggregate.value == pytest.approx(sum(cast(float, m["value"]) for m in resum))
    assert cache.full_loads == 1
    await assert_same_as_full_load(sessions, run, cache, [None, ["b"]])


async def test_predictions_reload_alone_and_repeated_uploads_stay_exact(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    refs = [f"r{i}" for i in range(12)]
    run = await make_run(sessions, refs)
    rng = random.Random(11)
    await upload(sessions, run, nested_rows(rng, refs, "iou", "HARMONIC_MEAN"))
    cache = CustomMetricCache()
    await query(sessions, run, cache)
    await add_predictions(sessions, run, [("r1", "cat", [{"name": "p", "value": 0.5}])])
    await assert_same_as_full_load(sessions, run, cache, [None, refs[:3]])
    for _ in range(4):
        picked = rng.sample(refs, 4)
        await upload(sessions, run, nested_rows(rng, picked, "iou", "HARMONIC_MEAN"))
        await add_predictions(sessions, run, [(picked[0], "dog", [{"name": "p", "value": 0.1}])])
        await assert_same_as_full_load(sessions, run, cache, [None, picked, refs[::3]])
    # One refresh per query that found new versions (an upload and predictions: one refresh).
    assert cache.full_loads == 1 and cache.loads == 6


async def test_another_run_with_the_same_id_is_loaded_whole(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    run = await make_run(sessions, ["a"])
    await upload(sessions, run, [{"name": "x", "reference_id": "a", "value": 1.0}])
    cache = CustomMetricCache()
    async with read_session(sessions) as session:
        first = await cache.columns(
            session, model_run_id=run.run_id, versions=(1, 0), identity="earlier run"
        )
        again = await cache.columns(
            session, model_run_id=run.run_id, versions=(1, 0), identity="earlier run"
        )
        assert again is first and cache.full_loads == 1
        await cache.columns(session, model_run_id=run.run_id, versions=(2, 0), identity="later")
        assert cache.full_loads == 2


async def test_values_by_confidence_replaced_with_other_keys(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    run = await make_run(sessions, ["a", "b"])

    def row(ref: str, pairs: list[tuple[float, float]]) -> dict[str, object]:
        return {
            "name": "pr",
            "reference_id": ref,
            "feature_name": "cat",
            "aggregation": "SUM",
            "values_by_confidence": [{"confidence": c, "value": v} for c, v in pairs],
        }

    await upload(
        sessions, run, [row("a", [(0.1, 1.0), (0.5, 2.0)]), row("b", [(0.5, 4.0), (0.9, 8.0)])]
    )
    cache = CustomMetricCache()
    await query(sessions, run, cache)
    await upload(sessions, run, [row("a", [(0.3, 16.0), (0.9, 32.0)])])  # a's 0.1 and 0.5 go
    [got] = await query(sessions, run, cache)
    assert got.aggregate.by_confidence == [(0.3, 16.0), (0.5, 4.0), (0.9, 40.0)]
    assert cache.full_loads == 1
    await assert_same_as_full_load(sessions, run, cache, [None, ["a"]])
