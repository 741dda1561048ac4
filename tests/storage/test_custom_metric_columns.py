"""The plain-scalar column load groups rows by their four strings exactly (no value lost or
moved between keys), on SQLite's row path (both ways of combining codes) and on both databases
through select_scalar_columns."""

from __future__ import annotations

import random

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sliceboard.storage import custom_metrics as store
from sliceboard.storage.db import read_session
from tests.support.custom_metrics_setup import make_run, upload

Row = tuple[int, str, str, str, str, float]


def flattened(columns: store.ScalarColumns) -> list[tuple[int, tuple[str, ...], float]]:
    return sorted(
        (int(i), columns.keys[int(g)], float(v))
        for i, g, v in zip(columns.item_id, columns.group, columns.value, strict=True)
    )


def random_rows(n: int) -> list[Row]:
    rng = random.Random(5)
    return [
        (
            rng.randint(1, 40),
            rng.choice(["", "cat", "dog"]),
            rng.choice(["", "red", "blue", "green"]),
            rng.choice(["iou", "area"]),
            rng.choice(["SUM", "HARMONIC_MEAN"]),
            rng.random(),
        )
        for _ in range(n)
    ]


@pytest.mark.parametrize("key_limit", [store.KEY_LIMIT, 1])
def test_rows_group_by_their_keys(monkeypatch: pytest.MonkeyPatch, key_limit: int) -> None:
    monkeypatch.setattr(store, "KEY_LIMIT", key_limit)
    rows = random_rows(3000)
    columns = store._grouped_rows(rows)
    assert flattened(columns) == sorted((r[0], r[1:5], r[5]) for r in rows)
    assert sorted(columns.keys) == sorted({r[1:5] for r in rows})


async def test_select_scalar_columns_since_a_revision(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    run = await make_run(sessions, ["a", "b"])
    first: list[dict[str, object]] = [
        {"name": "iou", "reference_id": "a", "feature_name": "cat", "value": 0.5},
        {"name": "iou", "reference_id": "a", "value": 0.25},
        {"name": "iou", "reference_id": "b", "feature_name": "cat", "value": 0.125},
    ]
    await upload(sessions, run, first)
    await upload(sessions, run, [{"name": "iou", "reference_id": "b", "value": 2.0}])
    a, b = run.item_ids["a"], run.item_ids["b"]
    key = ("", "", "iou", "ARITHMETIC_MEAN")
    cat = ("cat", "", "iou", "ARITHMETIC_MEAN")
    async with read_session(sessions) as session:
        everything = await store.select_scalar_columns(session=session, model_run_id=run.run_id)
        since_1 = await store.select_scalar_columns(
            session=session, model_run_id=run.run_id, since_revision=1
        )
        since_2 = await store.select_scalar_columns(
            session=session, model_run_id=run.run_id, since_revision=2
        )
    assert flattened(everything) == sorted(
        [(a, cat, 0.5), (a, key, 0.25), (b, cat, 0.125), (b, key, 2.0)]
    )
    assert flattened(since_1) == [(b, key, 2.0)]
    assert since_2.size == 0 and since_2.keys == []
