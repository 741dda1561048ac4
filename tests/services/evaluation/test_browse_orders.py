"""Browsing walks precomputed orders (sorted once per evaluation, threshold, outcome and key)
instead of sorting every prediction per request; its pages must be exactly what the
straightforward computation (filter every row, then a stable argsort of the rest) gives, for
every order and filter, with ties in IoU and confidence."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import numpy as np
import pytest

from sliceboard.compute.ranked_thread import RankedThread
from sliceboard.evaluation import FALSE_POSITIVE, TRUE_POSITIVE, MatchTable
from sliceboard.services.evaluation import browse
from sliceboard.services.evaluation.cache import DerivedArrays, SnapshotCache
from sliceboard.services.evaluation.snapshot import Snapshot
from sliceboard.storage.tables import ModelRun
from tests.support.golden import evaluate_matrix

THRESHOLDS = (0.5, 0.75, 0.95)
ORDERS = (None, "IOU_ASC", "IOU_DESC", "CONFIDENCE_ASC", "CONFIDENCE_DESC")
OUTCOMES = (None, "TRUE_POSITIVE", "FALSE_POSITIVE")
N_ITEMS, N_LABELS = 30, 4


def random_table(seed: int) -> MatchTable:
    """~500 predictions and ~150 ground truths over 30 items; IoUs and scores drawn from a
    few values, so both keys tie often; some crowd regions."""
    rng = np.random.default_rng(seed)
    n_gt, n_dt = 150, 500
    gt_item = rng.integers(0, N_ITEMS, n_gt)
    dt_item = rng.integers(0, N_ITEMS, n_dt)
    iou = rng.choice([0.0, 0.0, 0.3, 0.5, 0.6, 0.75, 0.8, 0.95, 1.0], size=(n_dt, n_gt))
    return evaluate_matrix(
        iou.tolist(),
        gt_label=rng.integers(0, N_LABELS, n_gt).tolist(),
        dt_label=rng.integers(0, N_LABELS, n_dt).tolist(),
        dt_score=rng.choice([0.1, 0.25, 0.5, 0.5, 0.75, 0.9], n_dt).tolist(),
        gt_item=gt_item.tolist(),
        dt_item=dt_item.tolist(),
        gt_crowd=(rng.uniform(size=n_gt) < 0.05).tolist(),
        n_labels=N_LABELS,
    )


def old_prediction_page(
    table: MatchTable,
    threshold: float,
    item_mask: np.ndarray | None,
    outcome: str | None,
    label_mask: np.ndarray | None,
    iou_range: dict[str, Any] | None,
    confidence_range: dict[str, Any] | None,
    order_by: str | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What browse_predictions computed per request before the orders were kept: (positions
    in page order, every prediction's matched gt, every prediction's IoU key)."""
    row = table.row_index(threshold, 0)
    t0 = int(np.searchsorted(table.all_rows, row))
    state = table.dt_state[row]
    matched = table.dt_gt[t0]
    iou = np.where(matched >= 0, table.dt_iou[t0].astype(np.float64), 0.0)
    keep, _ = table.item_selection(item_mask)
    if outcome == "TRUE_POSITIVE":
        keep = keep & (state == TRUE_POSITIVE)
    elif outcome == "FALSE_POSITIVE":
        keep = keep & (state == FALSE_POSITIVE)
    if label_mask is not None:
        keep &= label_mask[table.dt_label]
    keep &= browse._range(iou, iou_range) & browse._range(table.dt_score, confidence_range)
    positions = np.flatnonzero(keep)
    key = {
        "IOU_ASC": iou, "IOU_DESC": -iou,
        "CONFIDENCE_ASC": table.dt_score, "CONFIDENCE_DESC": -table.dt_score,
    }.get(order_by or "")  # fmt: skip
    if key is not None:
        positions = positions[np.argsort(key[positions], kind="stable")]
    return positions, matched, iou


def old_misses(
    table: MatchTable, threshold: float, item_mask: np.ndarray | None, label_mask: np.ndarray | None
) -> np.ndarray:
    row = table.row_index(threshold, 0)
    t0 = int(np.searchsorted(table.all_rows, row))
    _, keep = table.item_selection(item_mask)
    keep = keep & (table.gt_dt[t0] < 0) & ~table.gt_iscrowd & ~table.gt_ignore
    if label_mask is not None:
        keep &= label_mask[table.gt_label]
    return np.flatnonzero(keep)


def filters(rng: np.random.Generator) -> list[dict[str, Any]]:
    """No filter, each filter alone, and all of them together."""
    items = rng.uniform(size=N_ITEMS) < 0.5
    labels = np.array([True, False, True, False])
    return [
        {},
        {"item_mask": items},
        {"label_mask": labels},
        {"iou_range": {"min": 0.6, "max": 0.95}},
        {"iou_range": {"min": None, "max": 0.5}},
        {"confidence_range": {"min": 0.25, "max": None}},
        {"confidence_range": {"min": 0.5, "max": 0.5}},
        {
            "item_mask": items,
            "label_mask": labels,
            "iou_range": {"min": 0.5, "max": None},
            "confidence_range": {"min": None, "max": 0.75},
        },
    ]


@pytest.mark.parametrize("seed", [0, 1])
def test_walking_a_kept_order_equals_filtering_then_sorting(seed: int) -> None:
    table = random_table(seed)
    rng = np.random.default_rng(100 + seed)
    checked = 0
    for threshold, outcome, order_by in itertools.product(THRESHOLDS, OUTCOMES, ORDERS):
        row = table.row_index(threshold, 0)
        order = browse.prediction_order(table, row, outcome, order_by)
        for chosen in filters(rng):
            expected, _, _ = old_prediction_page(
                table,
                threshold,
                chosen.get("item_mask"),
                outcome,
                chosen.get("label_mask"),
                chosen.get("iou_range"),
                chosen.get("confidence_range"),
                order_by,
            )
            got = browse.predictions_in_order(
                table,
                order,
                row,
                chosen.get("item_mask"),
                chosen.get("label_mask"),
                chosen.get("iou_range"),
                chosen.get("confidence_range"),
            )
            np.testing.assert_array_equal(got, expected)
            checked += expected.shape[0]
    assert checked > 10_000  # the case selects something under most filters


@pytest.mark.parametrize("seed", [0, 1])
def test_the_case_has_ties_and_every_outcome(seed: int) -> None:
    """Guards the case itself: without ties the stable order would not be exercised."""
    table = random_table(seed)
    row = table.row_index(0.5, 0)
    t0 = int(np.searchsorted(table.all_rows, row))
    _, _, iou = old_prediction_page(table, 0.5, None, "TRUE_POSITIVE", None, None, None, None)
    tp = table.dt_state[row] == TRUE_POSITIVE
    assert np.unique(iou[tp]).shape[0] < np.count_nonzero(tp) / 4
    assert np.unique(table.dt_score).shape[0] < table.dt_score.shape[0] / 50
    assert np.count_nonzero(table.dt_state[row] == FALSE_POSITIVE) > 50
    assert np.count_nonzero(tp) > 50
    assert np.count_nonzero(table.gt_dt[t0] < 0) > 10


@pytest.mark.parametrize("seed", [0, 1])
def test_misses_in_order_equal_the_straightforward_ones(seed: int) -> None:
    table = random_table(seed)
    rng = np.random.default_rng(200 + seed)
    for threshold in THRESHOLDS:
        row = table.row_index(threshold, 0)
        missed = browse.missed_ground_truth(table, row)
        for chosen in filters(rng):
            if "iou_range" in chosen or "confidence_range" in chosen:
                continue
            got = browse.misses_in_order(
                table, missed, chosen.get("item_mask"), chosen.get("label_mask")
            )
            expected = old_misses(
                table, threshold, chosen.get("item_mask"), chosen.get("label_mask")
            )
            np.testing.assert_array_equal(got, expected)


def test_row_lookups_read_what_the_dense_rows_hold() -> None:
    table = random_table(3)
    positions = np.arange(table.dt_item.shape[0], dtype=np.int64)[::-1].copy()
    for t0 in range(table.all_rows.shape[0]):
        for sparse in (table.dt_gt, table.dt_iou):
            lookup = browse.row_lookup(sparse, t0)
            np.testing.assert_array_equal(
                browse.looked_up(sparse, lookup, positions), sparse[t0][positions]
            )


# --- through the service, with the cache --------------------------------------------------


def snapshot_of(table: MatchTable) -> Snapshot:
    return Snapshot(
        table=table,
        item_ids=np.arange(1, N_ITEMS + 1, dtype=np.int64),
        gt_ids=np.arange(1, table.gt_item.shape[0] + 1, dtype=np.int64) * 10,
        dt_ids=np.arange(1, table.dt_item.shape[0] + 1, dtype=np.int64) * 10 + 5,
        label_names=[f"label{k}" for k in range(N_LABELS)],
        kind="bbox",
        family="box",
    )


@pytest.fixture
def held() -> tuple[SnapshotCache, ModelRun, Snapshot]:
    """A cache holding one evaluation (id 7) of a random case, and a run showing it."""
    snapshot = snapshot_of(random_table(5))
    cache = SnapshotCache(worker=None, thread=RankedThread("test-browse"))
    cache._items.put(7, snapshot)
    run = ModelRun(id=1, model_id=1, dataset_id=1, name="r", current_evaluation_id=7)
    return cache, run, snapshot


async def test_paging_through_the_service_lists_the_straightforward_order(
    held: tuple[SnapshotCache, ModelRun, Snapshot],
) -> None:
    cache, run, snapshot = held
    table = snapshot.table
    labels = ["label0", "label3"]
    label_mask = np.array([True, False, False, True])
    for threshold, outcome, order_by in itertools.product((0.5, 0.85), OUTCOMES, ORDERS):
        for narrowed in (False, True):
            plain: dict[str, Any] = {"outcome": outcome}
            if narrowed:
                plain.update(labels=labels, confidence_range={"min": 0.25, "max": 0.9})
            expected, matched, iou = old_prediction_page(
                table,
                threshold,
                None,
                outcome,
                label_mask if narrowed else None,
                None,
                {"min": 0.25, "max": 0.9} if narrowed else None,
                order_by,
            )
            ids: list[int] = []
            after = None
            while True:
                page = await browse.browse_predictions(
                    None,  # type: ignore[arg-type]  # no filter reads the database
                    cache,
                    run=run,
                    filter=plain,
                    order_by=order_by,
                    iou_threshold=threshold,
                    first=37,
                    after=after,
                )
                assert page.total == expected.shape[0]
                ids += page.ids
                for dt_id in page.ids:
                    p = int(np.searchsorted(snapshot.dt_ids, dt_id))
                    g = int(matched[p])
                    assert page.matched[dt_id] == (int(snapshot.gt_ids[g]) if g >= 0 else None)
                    assert page.ious[dt_id] == (float(iou[p]) if g >= 0 else None)
                if not page.has_next:
                    break
                after = page.end_cursor
            assert ids == snapshot.dt_ids[expected].tolist()


async def test_misses_and_prediction_matches_through_the_service(
    held: tuple[SnapshotCache, ModelRun, Snapshot],
) -> None:
    cache, run, snapshot = held
    table = snapshot.table
    for threshold in (0.5, 0.95):
        page = await browse.browse_false_negatives(
            None,  # type: ignore[arg-type]
            cache,
            run=run,
            filter=None,
            labels=["label1", "label2"],
            iou_threshold=threshold,
            first=100,
            after=None,
        )
        expected = old_misses(table, threshold, None, np.array([False, True, True, False]))
        assert page.total == expected.shape[0]
        assert page.ids == snapshot.gt_ids[expected[:100]].tolist()
        wanted = [int(snapshot.dt_ids[p]) for p in range(0, snapshot.dt_ids.shape[0], 7)]
        found = await browse.prediction_matches(
            None,  # type: ignore[arg-type]
            cache,
            run=run,
            prediction_ids=[*wanted, 999_999],
            iou_threshold=threshold,
        )
        t0 = int(np.searchsorted(table.all_rows, table.row_index(threshold, 0)))
        assert set(found) == set(wanted)
        for dt_id in wanted:
            p = int(np.searchsorted(snapshot.dt_ids, dt_id))
            g = int(table.dt_gt[t0, p])
            assert found[dt_id] == (
                (float(table.dt_iou[t0, p]), int(snapshot.gt_ids[g])) if g >= 0 else (None, None)
            )


async def test_orders_are_kept_once_and_leave_with_their_snapshot(
    held: tuple[SnapshotCache, ModelRun, Snapshot],
) -> None:
    cache, run, _ = held
    calls = 0
    real = browse.prediction_order

    def counted(*args: Any) -> np.ndarray:
        nonlocal calls
        calls += 1
        return real(*args)

    browse.prediction_order = counted  # type: ignore[assignment]
    try:
        await asyncio.gather(
            *(
                browse.browse_predictions(
                    None,  # type: ignore[arg-type]
                    cache,
                    run=run,
                    filter={"outcome": "FALSE_POSITIVE"},
                    order_by="IOU_DESC",
                    iou_threshold=0.5,
                    first=10,
                    after=None,
                )
                for _ in range(8)
            )
        )
    finally:
        browse.prediction_order = real  # type: ignore[assignment]
    assert calls == 1  # eight concurrent requests, one sort
    assert cache.arrays.bytes > 0
    cache._evict(7)
    assert cache.arrays.bytes == 0 and cache.arrays.size() == 0


def test_derived_arrays_keep_within_their_byte_budget() -> None:
    held = {1, 2}
    arrays = DerivedArrays(1000, held.__contains__)
    arrays.put((1, "a"), np.zeros(100, dtype=np.int32))  # 400 bytes
    arrays.put((2, "b"), np.zeros(100, dtype=np.int32))
    assert arrays.bytes == 800
    assert arrays.get((1, "a")) is not None  # now the most recently used
    arrays.put((2, "c"), np.zeros(100, dtype=np.int32))  # over budget: (2, "b") goes
    assert arrays.get((2, "b")) is None
    assert arrays.get((1, "a")) is not None and arrays.get((2, "c")) is not None
    assert arrays.bytes == 800
    arrays.put((1, "big"), np.zeros(1001, dtype=np.uint8))  # alone beyond the budget
    assert arrays.get((1, "big")) is None and arrays.bytes == 800
    arrays.put((3, "gone"), np.zeros(1, dtype=np.uint8))  # its snapshot is not held
    assert arrays.get((3, "gone")) is None
    arrays.drop(1)
    assert arrays.bytes == 400 and arrays.size() == 1
