"""Slice aggregates of custom metrics against values computed independently with ``statistics``.

Runs on SQLite and PostgreSQL (the ``sessions`` fixture).
"""

from __future__ import annotations

import math
import random
import statistics
from collections import defaultdict
from fractions import Fraction

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sliceboard.services.custom_metrics import (
    MetricAggregate,
    aggregate_custom_metrics,
)
from sliceboard.services.custom_metrics_cache import CustomMetricCache
from sliceboard.services.uploads import upsert_predictions
from sliceboard.storage.db import read_session, transaction
from tests.support.custom_metrics_setup import Run, add_predictions, make_run, upload

AGGREGATIONS = ["ARITHMETIC_MEAN", "GEOMETRIC_MEAN", "HARMONIC_MEAN", "SUM"]


def reference(values: list[float], aggregation: str) -> float:
    """The aggregate as the standard library computes it."""
    if aggregation == "ARITHMETIC_MEAN":
        return statistics.fmean(values)
    if aggregation == "SUM":
        return math.fsum(values)
    if aggregation == "HARMONIC_MEAN":
        return statistics.harmonic_mean(values)
    return 0.0 if 0 in values else statistics.geometric_mean(values)


def expected_rollup(metrics: list[dict[str, object]], aggregation: str, refs: set[str]):
    """Labelbox's hierarchy written out with dicts: (slice value, count, {feature: (value, count)})."""
    own_row: dict[str, float] = {}
    own_feature: dict[tuple[str, str], float] = {}
    leaves: dict[tuple[str, str], list[float]] = defaultdict(list)
    for m in metrics:
        ref = str(m["reference_id"])
        if ref not in refs:
            continue
        value = float(m["value"])  # type: ignore[arg-type]
        if m.get("subclass_name"):
            leaves[(ref, str(m["feature_name"]))].append(value)
        elif m.get("feature_name"):
            own_feature[(ref, str(m["feature_name"]))] = value
        else:
            own_row[ref] = value
    feature_value = {
        key: own_feature[key] if key in own_feature else reference(leaves[key], aggregation)
        for key in set(own_feature) | set(leaves)
    }
    row_value: dict[str, float] = {}
    for ref in {k[0] for k in feature_value} | set(own_row):
        if ref in own_row:
            row_value[ref] = own_row[ref]
        else:
            row_value[ref] = reference(
                [v for (r, _f), v in feature_value.items() if r == ref], aggregation
            )
    by_feature: dict[str, list[float]] = defaultdict(list)
    for (_ref, feature), value in feature_value.items():
        by_feature[feature].append(value)
    slice_value = reference(list(row_value.values()), aggregation) if row_value else None
    return (
        slice_value,
        len(row_value),
        {f: (reference(vs, aggregation), len(vs)) for f, vs in by_feature.items()},
    )


def random_metrics(
    rng: random.Random, refs: list[str], aggregation: str
) -> list[dict[str, object]]:
    """Row, feature and nested-feature values, each level present on some rows only."""
    out: list[dict[str, object]] = []

    def value() -> float:
        return rng.choice([0.5, 1.0, 2.0, 3.25, 7.0, 10.0, 1e-3, 1e5]) * rng.uniform(0.5, 2)

    for ref in refs:
        if rng.random() < 0.3:
            out.append(
                {"name": "m", "reference_id": ref, "value": value(), "aggregation": aggregation}
            )
        for feature in rng.sample(["cat", "dog", "bird"], rng.randint(0, 3)):
            if rng.random() < 0.5:
                out.append(
                    {
                        "name": "m",
                        "reference_id": ref,
                        "feature_name": feature,
                        "value": value(),
                        "aggregation": aggregation,
                    }
                )
            for sub in rng.sample(
                ["red", "green", "blue"], rng.randint(0 if rng.random() < 0.5 else 1, 3)
            ):
                out.append(
                    {
                        "name": "m",
                        "reference_id": ref,
                        "feature_name": feature,
                        "subclass_name": sub,
                        "value": value(),
                        "aggregation": aggregation,
                    }
                )
    return out


def by_feature(metric: MetricAggregate) -> dict[str, object]:
    return {f.feature_name: (f.aggregate.value, f.aggregate.count) for f in metric.features}


async def query(sessions: async_sessionmaker[AsyncSession], run: Run, refs: list[str] | None, cache: CustomMetricCache | None = None, names: list[str] | None = None) -> list[MetricAggregate]:  # fmt: skip
    async with read_session(sessions) as session:
        ids = None if refs is None else [run.item_ids[r] for r in refs]
        return await aggregate_custom_metrics(
            session,
            cache=cache or CustomMetricCache(),
            model_run_id=run.run_id,
            item_ids=ids,
            names=names,
        )


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
async def test_hierarchy_matches_statistics(
    sessions: async_sessionmaker[AsyncSession], aggregation: str
) -> None:
    refs = [f"r{i}" for i in range(40)]
    run = await make_run(sessions, refs)
    metrics = random_metrics(random.Random(aggregation), refs, aggregation)
    await upload(sessions, run, metrics)
    for selected in (refs, refs[::3], refs[5:6]):
        [got] = await query(sessions, run, selected)
        value, count, features = expected_rollup(metrics, aggregation, set(selected))
        assert got.aggregation.value == aggregation and got.source == "RUN"
        assert got.aggregate.count == count
        assert got.aggregate.value == pytest.approx(value, rel=1e-9)
        assert by_feature(got) == {
            f: (pytest.approx(v, rel=1e-9), n) for f, (v, n) in features.items()
        }


async def test_by_subclass_aggregates_nested_values_across_rows(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    run = await make_run(sessions, ["a", "b", "c"])
    values = {"a": 2.0, "b": 8.0, "c": 5.0}
    await upload(
        sessions,
        run,
        [
            {
                "name": "w",
                "reference_id": ref,
                "feature_name": "cat",
                "subclass_name": "orange",
                "value": v,
                "aggregation": "GEOMETRIC_MEAN",
            }
            for ref, v in values.items()
        ]
        + [
            {
                "name": "w",
                "reference_id": "a",
                "feature_name": "cat",
                "subclass_name": "black",
                "value": 1.0,
                "aggregation": "GEOMETRIC_MEAN",
            }
        ],
    )
    [got] = await query(sessions, run, ["a", "b"])
    [cat] = got.features
    subs: dict[str, object] = {
        s.subclass_name: (s.aggregate.value, s.aggregate.count) for s in cat.subclasses
    }
    assert subs == {
        "black": (pytest.approx(1.0), 1),
        "orange": (pytest.approx(statistics.geometric_mean([2.0, 8.0])), 2),
    }
    # Row a's cat = gm(2, 1), row b's cat = 8; the slice is the gm of those.
    assert got.aggregate.value == pytest.approx(
        statistics.geometric_mean([statistics.geometric_mean([2.0, 1.0]), 8.0])
    )


async def test_empty_slice_is_null_not_zero(sessions: async_sessionmaker[AsyncSession]) -> None:
    run = await make_run(sessions, ["a", "b"])
    await upload(
        sessions,
        run,
        [
            {"name": "s", "reference_id": "a", "value": 3.0, "aggregation": "SUM"},
            {"name": "c", "reference_id": "a", "confusion": {"tp": 1, "fp": 0, "tn": 0, "fn": 0}},
            {
                "name": "k",
                "reference_id": "a",
                "values_by_confidence": [
                    {"confidence": 0.1, "value": 1.0},
                    {"confidence": 0.9, "value": 2.0},
                ],
            },
        ],
    )
    got = await query(sessions, run, ["b"])
    assert [
        (
            m.name,
            m.aggregate.value,
            m.aggregate.count,
            m.aggregate.confusion,
            m.aggregate.by_confidence,
            m.features,
        )
        for m in got
    ] == [
        ("c", None, 0, None, None, []),
        ("k", None, 0, None, None, []),
        ("s", None, 0, None, None, []),
    ]
    assert [m.aggregate.count for m in await query(sessions, run, [])] == [0, 0, 0]


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
async def test_single_value_is_itself(
    sessions: async_sessionmaker[AsyncSession], aggregation: str
) -> None:
    run = await make_run(sessions, ["a"])
    await upload(
        sessions,
        run,
        [{"name": "x", "reference_id": "a", "value": 0.37, "aggregation": aggregation}],
    )
    [got] = await query(sessions, run, None)
    assert got.aggregate.count == 1
    assert got.aggregate.value == pytest.approx(0.37, rel=1e-12)


async def test_zero_in_geometric_mean_and_overflowing_product(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    refs = [f"r{i}" for i in range(401)]
    run = await make_run(sessions, refs)
    big = [
        {"name": "big", "reference_id": r, "value": 1e8, "aggregation": "GEOMETRIC_MEAN"}
        for r in refs[:400]
    ]
    zero = [
        {"name": "zero", "reference_id": r, "value": v, "aggregation": "GEOMETRIC_MEAN"}
        for r, v in (("r0", 5.0), ("r1", 0.0), ("r2", 7.0))
    ]
    await upload(sessions, run, big + zero)
    with pytest.raises(OverflowError):
        math.prod(
            Fraction(10) ** 8 for _ in range(400)
        ).__float__()  # the naive product is not a float
    got = {m.name: m.aggregate for m in await query(sessions, run, None)}
    assert got["big"].value == pytest.approx(1e8, rel=1e-12) and got["big"].count == 400
    assert got["zero"].value == 0.0 and got["zero"].count == 3
    # Without the zero the geometric mean is back.
    nonzero = await query(sessions, run, ["r0", "r2"], names=["zero"])
    assert nonzero[0].aggregate.value == pytest.approx(statistics.geometric_mean([5.0, 7.0]))


async def test_confusion_counts_sum_through_the_hierarchy(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    run = await make_run(sessions, ["a", "b", "c"])
    rng = random.Random(7)
    metrics: list[dict[str, object]] = []
    for ref in ("a", "b", "c"):
        for feature in ("cat", "dog"):
            counts = {k: rng.randint(0, 20) for k in ("tp", "fp", "tn", "fn")}
            metrics.append(
                {"name": "cm", "reference_id": ref, "feature_name": feature, "confusion": counts}
            )
    row_a = {"tp": 100, "fp": 1, "tn": 2, "fn": 3}  # a's own row value replaces its features' sum
    metrics.append({"name": "cm", "reference_id": "a", "confusion": row_a})
    await upload(sessions, run, metrics)
    [got] = await query(sessions, run, None)
    totals = dict(row_a)
    for m in metrics:
        if m["reference_id"] != "a":
            for k, v in m["confusion"].items():  # type: ignore[attr-defined]
                totals[k] += v
    confusion = got.aggregate.confusion
    assert confusion is not None and got.aggregate.count == 3 and got.aggregation.value == "SUM"
    assert (confusion.tp, confusion.fp, confusion.tn, confusion.fn) == tuple(
        totals[k] for k in ("tp", "fp", "tn", "fn")
    )
    tp, fp, fn = totals["tp"], totals["fp"], totals["fn"]
    precision, recall = Fraction(tp, tp + fp), Fraction(tp, tp + fn)
    assert confusion.precision == pytest.approx(float(precision))
    assert confusion.recall == pytest.approx(float(recall))
    assert confusion.f1 == pytest.approx(float(2 * precision * recall / (precision + recall)))
    cat = next(f for f in got.features if f.feature_name == "cat")
    cat_tp = sum(m["confusion"]["tp"] for m in metrics if m.get("feature_name") == "cat")  # type: ignore[index]
    assert cat.aggregate.confusion is not None and cat.aggregate.confusion.tp == cat_tp


async def test_confusion_scores_are_null_when_undefined(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    run = await make_run(sessions, ["a"])
    await upload(
        sessions,
        run,
        [{"name": "cm", "reference_id": "a", "confusion": {"tp": 0, "fp": 0, "tn": 5, "fn": 0}}],
    )
    [got] = await query(sessions, run, None)
    assert got.aggregate.confusion is not None
    assert (
        got.aggregate.confusion.precision,
        got.aggregate.confusion.recall,
        got.aggregate.confusion.f1,
    ) == (None, None, None)


async def test_values_by_confidence_aggregate_per_key(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    run = await make_run(sessions, ["a", "b", "c"])
    rows = {
        "a": [(0.1, 1.0), (0.5, 3.0)],
        "b": [(0.1, 2.0), (0.5, 5.0), (0.9, 4.0)],
        "c": [(0.5, 9.0), (0.9, 1.0)],
    }
    await upload(
        sessions,
        run,
        [
            {
                "name": "pr",
                "reference_id": ref,
                "aggregation": "HARMONIC_MEAN",
                "values_by_confidence": [{"confidence": c, "value": v} for c, v in pairs],
            }
            for ref, pairs in rows.items()
        ],
    )
    [got] = await query(sessions, run, ["a", "b", "c"])
    assert got.aggregate.value is None and got.aggregate.count == 3
    expected = {
        c: statistics.harmonic_mean([v for pairs in rows.values() for cc, v in pairs if cc == c])
        for c in (0.1, 0.5, 0.9)
    }
    assert got.aggregate.by_confidence is not None
    assert {c: v for c, v in got.aggregate.by_confidence} == {
        c: pytest.approx(v) for c, v in expected.items()
    }
    [only_a] = await query(sessions, run, ["a"])
    assert only_a.aggregate.by_confidence == [(0.1, 1.0), (0.5, 3.0), (0.9, None)]


async def test_prediction_metrics_roll_up_by_label(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    run = await make_run(sessions, ["a", "b"])
    await upload(sessions, run, [{"name": "iou", "reference_id": "a", "value": 0.1}])
    await add_predictions(
        sessions,
        run,
        [
            ("a", "cat", [{"name": "iou", "value": 0.5}, {"name": "tags", "value": 4}]),
            ("a", "cat", [{"name": "iou", "value": 0.7}]),
            ("a", "dog", [{"name": "iou", "value": 0.9}]),
            ("b", "dog", [{"name": "iou", "value": 0.2}]),
            ("b", "dog", None),
        ],
    )
    got = {(m.name, m.source): m for m in await query(sessions, run, None)}
    assert set(got) == {("iou", "RUN"), ("iou", "PREDICTION"), ("tags", "PREDICTION")}
    iou = got[("iou", "PREDICTION")]
    row_a = statistics.fmean([statistics.fmean([0.5, 0.7]), 0.9])
    assert (
        iou.aggregate.value == pytest.approx(statistics.fmean([row_a, 0.2]))
        and iou.aggregate.count == 2
    )
    assert by_feature(iou) == {
        "cat": (pytest.approx(0.6), 1),
        "dog": (pytest.approx(statistics.fmean([0.9, 0.2])), 2),
    }
    assert got[("iou", "RUN")].aggregate.value == pytest.approx(0.1)


async def test_cache_reloads_when_metrics_or_predictions_change(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    run = await make_run(sessions, ["a", "b"])
    cache = CustomMetricCache()
    await upload(sessions, run, [{"name": "x", "reference_id": "a", "value": 1.0}])
    assert (await query(sessions, run, None, cache))[0].aggregate.value == 1.0
    assert (await query(sessions, run, None, cache))[0].aggregate.value == 1.0
    assert cache.loads == 1
    await upload(
        sessions,
        run,
        [
            {"name": "x", "reference_id": "a", "value": 3.0},
            {"name": "x", "reference_id": "b", "value": 5.0},
        ],
    )
    assert (await query(sessions, run, None, cache))[0].aggregate.value == 4.0
    await add_predictions(sessions, run, [("a", "cat", [{"name": "p", "value": 2.0}])])
    assert [m.name for m in await query(sessions, run, None, cache)] == ["p", "x"]
    assert cache.loads == 3


async def test_names_select_metrics(sessions: async_sessionmaker[AsyncSession]) -> None:
    run = await make_run(sessions, ["a"])
    await upload(
        sessions, run, [{"name": n, "reference_id": "a", "value": 1.0} for n in ("p", "q", "r")]
    )
    assert [m.name for m in await query(sessions, run, None, names=["r", "p", "absent"])] == [
        "p",
        "r",
    ]


async def test_metrics_of_predictions_uploaded_through_the_upload_service(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    run = await make_run(sessions, ["a", "b"])
    cache = CustomMetricCache()
    rows = [
        {
            "reference_id": "a",
            "annotation_id": "p1",
            "label": "cat",
            "custom_metrics": [{"name": "iou", "value": 0.5}],
        },
        {
            "reference_id": "a",
            "annotation_id": "p2",
            "label": "dog",
            "custom_metrics": [{"name": "iou", "value": 0.9}],
        },
        {
            "reference_id": "b",
            "annotation_id": "p3",
            "label": "cat",
            "custom_metrics": [{"name": "iou", "value": 0.2}],
        },
    ]
    async with transaction(sessions) as session:
        await upsert_predictions(
            session, model_run_id=str(run.run_id), predictions=rows, update=False, max_rows=100
        )
    [iou] = await query(sessions, run, None, cache)
    assert (iou.source, iou.aggregate.count) == ("PREDICTION", 2)
    assert iou.aggregate.value == pytest.approx(
        statistics.fmean([statistics.fmean([0.5, 0.9]), 0.2])
    )
    rows[2] = dict(rows[2], custom_metrics=[{"name": "iou", "value": 0.4}])
    async with transaction(sessions) as session:
        await upsert_predictions(
            session, model_run_id=str(run.run_id), predictions=rows, update=True, max_rows=100
        )
    [iou] = await query(sessions, run, None, cache)  # data_version moved: the cache reloads
    assert iou.aggregate.value == pytest.approx(statistics.fmean([0.7, 0.4])) and cache.loads == 2
