"""uploadCustomMetrics: idempotent upserts, whole-batch validation with paths, nothing written on error."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sliceboard.errors import InvalidInput, NotFound
from sliceboard.services.custom_metrics import UploadCounts, upload_custom_metrics
from sliceboard.storage.db import read_session, transaction
from sliceboard.storage.tables import CustomMetric, ModelRun, core
from tests.support.custom_metrics_setup import Run, make_run, upload

METRIC, RUN = core(CustomMetric), core(ModelRun)


async def stored(
    sessions: async_sessionmaker[AsyncSession], run: Run
) -> tuple[list[tuple[object, ...]], int]:
    async with read_session(sessions) as session:
        rows = (
            await session.execute(
                sa.select(
                    METRIC.c.name,
                    METRIC.c.feature_name,
                    METRIC.c.subclass_name,
                    METRIC.c.value,
                    METRIC.c.aggregation,
                    METRIC.c.kind,
                    METRIC.c.by_confidence,
                    METRIC.c.tp,
                ).order_by(METRIC.c.name, METRIC.c.feature_name, METRIC.c.subclass_name)
            )
        ).all()
        version = (
            await session.execute(
                sa.select(RUN.c.custom_metrics_version).where(RUN.c.id == run.run_id)
            )
        ).scalar_one()
    return [tuple(r) for r in rows], version


async def test_upsert_is_idempotent_and_replaces(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    run = await make_run(sessions, ["a", "b"])
    batch: list[dict[str, object]] = [
        {"name": "iou", "reference_id": "a", "value": 0.5},
        {"name": "iou", "reference_id": "a", "feature_name": "cat", "value": 0.25},
        {
            "name": "iou",
            "reference_id": "a",
            "feature_name": "cat",
            "subclass_name": "orange",
            "value": 0.125,
        },
        {"name": "cm", "reference_id": "b", "confusion": {"tp": 1, "fp": 2, "tn": 3, "fn": 4}},
        {
            "name": "pr",
            "reference_id": "b",
            "values_by_confidence": [
                {"confidence": 0.9, "value": 1.0},
                {"confidence": 0.1, "value": 2.0},
            ],
        },
    ]
    assert await upload(sessions, run, batch) == UploadCounts(new=5, updated=0, ignored=0)
    first, version = await stored(sessions, run)
    assert version == 1
    assert first == [
        ("cm", "", "", None, "SUM", "CONFUSION", None, 1),
        ("iou", "", "", 0.5, "ARITHMETIC_MEAN", "SCALAR", None, None),
        ("iou", "cat", "", 0.25, "ARITHMETIC_MEAN", "SCALAR", None, None),
        ("iou", "cat", "orange", 0.125, "ARITHMETIC_MEAN", "SCALAR", None, None),
        ("pr", "", "", None, "ARITHMETIC_MEAN", "SCALAR", [[0.1, 2.0], [0.9, 1.0]], None),
    ]
    assert await upload(sessions, run, batch) == UploadCounts(new=0, updated=0, ignored=5)
    assert await stored(sessions, run) == (first, 1)  # nothing changed, version kept
    batch[0] = {"name": "iou", "reference_id": "a", "value": 0.75}
    assert await upload(sessions, run, batch) == UploadCounts(new=0, updated=1, ignored=4)
    rows, version = await stored(sessions, run)
    assert rows[1][3] == 0.75 and len(rows) == 5 and version == 2


BAD: list[tuple[dict[str, object], str]] = [
    ({"name": "m", "reference_id": "nope", "value": 1.0}, "metrics[{i}].referenceId"),
    ({"name": "m", "reference_id": "a", "value": math.nan}, "metrics[{i}].value"),
    ({"name": "m", "reference_id": "a", "value": math.inf}, "metrics[{i}].value"),
    ({"name": "m", "reference_id": "a", "value": 1e8 * 1.01}, "metrics[{i}].value"),
    (
        {"name": "g", "reference_id": "a", "value": -1.0, "aggregation": "GEOMETRIC_MEAN"},
        "metrics[{i}].value",
    ),
    (
        {"name": "h", "reference_id": "a", "value": 0.0, "aggregation": "HARMONIC_MEAN"},
        "metrics[{i}].value",
    ),
    (
        {"name": "h", "reference_id": "b", "value": -2.0, "aggregation": "HARMONIC_MEAN"},
        "metrics[{i}].value",
    ),
    (
        {"name": "m", "reference_id": "a", "feature_name": "x", "value": 1.0, "aggregation": "SUM"},
        "metrics[{i}].aggregation",
    ),
    (
        {
            "name": "c",
            "reference_id": "a",
            "values_by_confidence": [{"confidence": 0.5, "value": 1.0}],
        },
        "metrics[{i}].valuesByConfidence",
    ),
    (
        {
            "name": "c",
            "reference_id": "a",
            "values_by_confidence": [{"confidence": i / 20, "value": 1.0} for i in range(16)],
        },
        "metrics[{i}].valuesByConfidence",
    ),
    (
        {
            "name": "c",
            "reference_id": "a",
            "feature_name": "d",
            "values_by_confidence": [
                {"confidence": 0.5, "value": 1.0},
                {"confidence": 0.5, "value": 2.0},
            ],
        },
        "metrics[{i}].valuesByConfidence[1].confidence",
    ),
    (
        {
            "name": "c",
            "reference_id": "a",
            "feature_name": "e",
            "values_by_confidence": [
                {"confidence": 1.5, "value": 1.0},
                {"confidence": 0.5, "value": 2.0},
            ],
        },
        "metrics[{i}].valuesByConfidence[0].confidence",
    ),
    (
        {"name": "m", "reference_id": "a", "subclass_name": "orange", "value": 1.0},
        "metrics[{i}].subclassName",
    ),
    (
        {
            "name": "m",
            "reference_id": "b",
            "value": 1.0,
            "values_by_confidence": [
                {"confidence": 0.1, "value": 1.0},
                {"confidence": 0.2, "value": 1.0},
            ],
        },
        "metrics[{i}].valuesByConfidence",
    ),
    (
        {
            "name": "k",
            "reference_id": "a",
            "value": 1.0,
            "confusion": {"tp": 1, "fp": 0, "tn": 0, "fn": 0},
        },
        "metrics[{i}].confusion",
    ),
    (
        {"name": "k", "reference_id": "a", "confusion": {"tp": -1, "fp": 0, "tn": 0, "fn": 0}},
        "metrics[{i}].confusion.tp",
    ),
    ({"name": "m", "reference_id": "a", "feature_name": "z"}, "metrics[{i}]"),
    ({"name": "", "reference_id": "a", "value": 1.0}, "metrics[{i}].name"),
    (
        {"name": "m", "reference_id": "a", "feature_name": "", "value": 1.0},
        "metrics[{i}].featureName",
    ),
    (
        {"name": "m", "reference_id": "a", "value": 1.0, "aggregation": "MEDIAN"},
        "metrics[{i}].aggregation",
    ),
    ({"name": "m", "reference_id": "a", "value": True}, "metrics[{i}].value"),
]


async def test_every_bad_row_is_reported_and_nothing_is_written(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    run = await make_run(sessions, ["a", "b"])
    good = {"name": "m", "reference_id": "a", "value": 1.0}
    batch = [good] + [row for row, _ in BAD]
    with pytest.raises(InvalidInput) as caught:
        await upload(sessions, run, batch)
    paths = [issue.path for issue in caught.value.issues]
    for i, (_row, path) in enumerate(BAD, start=1):
        assert path.format(i=i) in paths, (i, paths)
    assert len(paths) == len(BAD)  # one issue per bad row; the good metrics[0] has none
    assert await stored(sessions, run) == ([], 0)


async def test_duplicate_key_in_batch(sessions: async_sessionmaker[AsyncSession]) -> None:
    run = await make_run(sessions, ["a"])
    row = {"name": "m", "reference_id": "a", "feature_name": "cat", "value": 1.0}
    with pytest.raises(InvalidInput) as caught:
        await upload(sessions, run, [row, dict(row, value=2.0)])
    assert [(i.path, i.message) for i in caught.value.issues] == [
        ("metrics[1]", "same referenceId, featureName, subclassName and name as metrics[0]")
    ]


async def test_mixed_aggregation_against_stored(sessions: async_sessionmaker[AsyncSession]) -> None:
    run = await make_run(sessions, ["a", "b"])
    await upload(
        sessions,
        run,
        [{"name": "m", "reference_id": r, "value": 2.0, "aggregation": "SUM"} for r in ("a", "b")],
    )
    with pytest.raises(InvalidInput) as caught:
        await upload(sessions, run, [{"name": "m", "reference_id": "a", "value": 2.0}])
    [issue] = caught.value.issues
    assert issue.path == "metrics[0].aggregation" and "SUM on 1 other entries" in issue.message
    with pytest.raises(InvalidInput) as caught:
        await upload(
            sessions,
            run,
            [{"name": "m", "reference_id": "a", "confusion": {"tp": 1, "fp": 1, "tn": 1, "fn": 1}}],
        )
    assert caught.value.issues[0].path == "metrics[0].confusion"
    # Replacing every stored row may change the aggregation.
    counts = await upload(
        sessions,
        run,
        [
            {"name": "m", "reference_id": r, "value": 2.0, "aggregation": "HARMONIC_MEAN"}
            for r in ("a", "b")
        ],
    )
    assert counts == UploadCounts(new=0, updated=2, ignored=0)
    assert {r[4] for r in (await stored(sessions, run))[0]} == {"HARMONIC_MEAN"}


@pytest.mark.parametrize("run_id", ["999999", "x", "-1"])
async def test_unknown_run_is_not_found(
    sessions: async_sessionmaker[AsyncSession], run_id: str
) -> None:
    async with transaction(sessions) as session:
        with pytest.raises(NotFound) as missing:
            await upload_custom_metrics(session, model_run_id=run_id, metrics=[], max_rows=10)
    assert missing.value.path == "modelRunId"


async def test_batch_limit(sessions: async_sessionmaker[AsyncSession]) -> None:
    run = await make_run(sessions, ["a"])
    with pytest.raises(InvalidInput) as caught:
        await upload(
            sessions,
            run,
            [{"name": f"m{i}", "reference_id": "a", "value": 1.0} for i in range(3)],
            max_rows=2,
        )
    assert [(i.path, i.message) for i in caught.value.issues] == [
        ("metrics", "at most 2 metrics per request, got 3")
    ]
