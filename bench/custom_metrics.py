"""Slice aggregate latency of custom metrics with 1,000,000 stored scalar values.

    python bench/custom_metrics.py [--items 20000] [--postgres] [--repeat 15] [--upload 2000]

Stores 1,000,000 nested-feature values (items x 2 metric names x 5 features x 5 nested
features; no feature- or row-level values, so every query rolls the whole hierarchy up) on a
fresh SQLite file (with --postgres: a fresh PostgreSQL database), then asks for the
ARITHMETIC_MEAN metric over a slice of half the data rows, with its byFeature/bySubclass.

Ours: ``services.custom_metrics.aggregate_custom_metrics`` with a warm column cache (version
check SELECT + mask + segmented numpy reductions). Peer, in the same run and on the same
database: the same three answers (slice value and count, per feature, per nested feature)
computed by plain SQL GROUP BY queries over the slice's item ids. The two answers are compared,
then the median latencies and their ratio are printed, plus the cold load of the cache.

First query after an upload (``--upload N``, 0 to skip): N rows through ``uploadCustomMetrics``'
service - half replace stored values, half are new keys under a new nested feature - then the
same query on the warm cache (its incremental refresh) against a fresh cache that loads the whole
run (what every query after an upload paid before the refresh was incremental), measured in the
same run. Both answers must agree bit for bit, and with the SQL peer.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.pg_admin import PG_ADMIN_URL, pg_admin  # noqa: E402
from sliceboard.services.custom_metrics import (  # noqa: E402
    MetricAggregate,
    aggregate_custom_metrics,
    upload_custom_metrics,
)
from sliceboard.services.custom_metrics_cache import CustomMetricCache  # noqa: E402
from sliceboard.storage.db import (  # noqa: E402
    create_engine,
    create_sessionmaker,
    read_session,
    transaction,
)
from sliceboard.storage.migrate import upgrade  # noqa: E402
from sliceboard.storage.tables import CustomMetric, Dataset, Item, Model, ModelRun, core, utcnow  # noqa: E402

FEATURES, SUBCLASSES, NAMES = 5, 5, ("iou", "bbw")

PEER_SQL = """
WITH sel AS (
  SELECT item_id, feature_name, subclass_name, value FROM custom_metric
  WHERE model_run_id = :run AND name = :name AND item_id IN :items
),
feat AS (
  SELECT item_id, feature_name,
         COALESCE(MAX(CASE WHEN subclass_name = '' THEN value END),
                  AVG(CASE WHEN subclass_name <> '' THEN value END)) AS v
  FROM sel WHERE feature_name <> '' GROUP BY item_id, feature_name
),
own AS (SELECT item_id, value AS v FROM sel WHERE feature_name = ''),
derived AS (
  SELECT item_id, AVG(v) AS v FROM feat WHERE item_id NOT IN (SELECT item_id FROM own)
  GROUP BY item_id
),
rowv AS (SELECT v FROM own UNION ALL SELECT v FROM derived)
SELECT 'slice', '', '', AVG(v), COUNT(*) FROM rowv
UNION ALL
SELECT 'feature', feature_name, '', AVG(v), COUNT(*) FROM feat GROUP BY feature_name
UNION ALL
SELECT 'subclass', feature_name, subclass_name, AVG(value), COUNT(*) FROM sel
WHERE subclass_name <> '' GROUP BY feature_name, subclass_name
"""


async def populate(url: str, n_items: int) -> tuple[int, list[int]]:
    """The run id and its item ids, after writing n_items x 50 values."""
    engine = create_engine(url)
    rng = np.random.default_rng(0)
    try:
        async with engine.begin() as conn:
            ds = (
                await conn.execute(
                    sa.insert(core(Dataset))
                    .values(name="bench", created_at=utcnow())
                    .returning(core(Dataset).c.id)
                )
            ).scalar_one()
            model = (
                await conn.execute(
                    sa.insert(core(Model))
                    .values(name="m", reference_id="m", created_at=utcnow())
                    .returning(core(Model).c.id)
                )
            ).scalar_one()
            run = (
                await conn.execute(
                    sa.insert(core(ModelRun))
                    .values(model_id=model, dataset_id=ds, name="r", created_at=utcnow())
                    .returning(core(ModelRun).c.id)
                )
            ).scalar_one()
            now = utcnow()
            await conn.execute(
                sa.insert(core(Item)),
                [
                    {"dataset_id": ds, "reference_id": f"i{i}", "created_at": now}
                    for i in range(n_items)
                ],
            )
            item_ids = list(
                (await conn.execute(sa.select(core(Item).c.id).order_by(core(Item).c.id))).scalars()
            )
            per_item = len(NAMES) * FEATURES * SUBCLASSES
            values = rng.uniform(0.01, 1.0, n_items * per_item).tolist()
            rows: list[dict[str, Any]] = []
            k = 0
            for item in item_ids:
                for name in NAMES:
                    aggregation = "ARITHMETIC_MEAN" if name == "iou" else "GEOMETRIC_MEAN"
                    for f in range(FEATURES):
                        for s in range(SUBCLASSES):
                            rows.append(
                                {
                                    "model_run_id": run,
                                    "item_id": item,
                                    "feature_name": f"f{f}",
                                    "subclass_name": f"s{s}",
                                    "name": name,
                                    "kind": "SCALAR",
                                    "aggregation": aggregation,
                                    "value": values[k],
                                    "created_at": now,
                                }
                            )
                            k += 1
                if len(rows) >= 50_000:
                    await conn.execute(sa.insert(core(CustomMetric)), rows)
                    rows.clear()
            if rows:
                await conn.execute(sa.insert(core(CustomMetric)), rows)
    finally:
        await engine.dispose()
    return run, item_ids


def _close(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (
        a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9)
    )


def _answers(got: MetricAggregate) -> dict[tuple[str, str, str], tuple[float | None, int]]:
    answers = {("slice", "", ""): (got.aggregate.value, got.aggregate.count)}
    for feature in got.features:
        answers[("feature", feature.feature_name, "")] = (
            feature.aggregate.value,
            feature.aggregate.count,
        )
        for sub in feature.subclasses:
            answers[("subclass", feature.feature_name, sub.subclass_name)] = (
                sub.aggregate.value,
                sub.aggregate.count,
            )
    return answers


def _check(got: MetricAggregate, rows: list[Any]) -> int:
    """Asserts our answer equals the SQL peer's; the number of groups."""
    expected = {(kind, f, s): (v, n) for kind, f, s, v, n in rows}
    answers = _answers(got)
    assert answers.keys() == expected.keys(), "different groups"
    for key, (value, count) in expected.items():
        assert count == answers[key][1] and _close(float(value), answers[key][0]), (
            key,
            value,
            answers[key],
        )
    return len(expected)


def upload_rows(item_ids: list[int], n_rows: int, round_: int) -> list[dict[str, Any]]:
    """n_rows of metric "iou": half replace stored values, half add nested feature "s_new"."""
    rng = np.random.default_rng(round_ + 1)
    half = n_rows // 2
    step = max(len(item_ids) // max(half, 1), 1)
    picked = list(range(0, len(item_ids), step))[:half]
    rows: list[dict[str, Any]] = []
    for k, i in enumerate(picked):
        rows.append(
            {
                "name": "iou",
                "reference_id": f"i{i}",
                "feature_name": f"f{k % FEATURES}",
                "subclass_name": f"s{k % SUBCLASSES}",
                "value": float(rng.uniform(0.01, 1.0)),
                "aggregation": "ARITHMETIC_MEAN",
            }
        )
        rows.append(
            {
                "name": "iou",
                "reference_id": f"i{i}",
                "feature_name": f"f{k % FEATURES}",
                "subclass_name": "s_new",
                "value": float(rng.uniform(0.01, 1.0)),
                "aggregation": "ARITHMETIC_MEAN",
            }
        )
    return rows


async def measure(url: str, n_items: int, repeat: int, peer_repeat: int, n_upload: int) -> None:
    start = time.perf_counter()
    run, item_ids = await populate(url, n_items)
    print(
        f"setup: {len(item_ids) * len(NAMES) * FEATURES * SUBCLASSES:,} stored values on {len(item_ids):,} data rows in {time.perf_counter() - start:.1f} s"
    )
    selected = item_ids[::2]
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    cache = CustomMetricCache()
    peer = sa.text(PEER_SQL).bindparams(sa.bindparam("items", expanding=True))

    async def ours() -> Any:
        async with read_session(sessions) as session:
            return await aggregate_custom_metrics(
                session, cache=cache, model_run_id=run, item_ids=selected, names=["iou"]
            )

    async def sql() -> list[Any]:
        async with read_session(sessions) as session:
            return list(
                (await session.execute(peer, {"run": run, "name": "iou", "items": selected})).all()
            )

    try:
        start = time.perf_counter()
        [got] = await ours()
        cold = time.perf_counter() - start
        groups = _check(got, await sql())
        ours_times: list[float] = []
        sql_times: list[float] = []
        for i in range(repeat):  # interleaved, so both see the same machine load
            t = time.perf_counter()
            await ours()
            ours_times.append(time.perf_counter() - t)
            if i < peer_repeat:
                t = time.perf_counter()
                await sql()
                sql_times.append(time.perf_counter() - t)
        ours_ms, sql_ms = statistics.median(ours_times) * 1e3, statistics.median(sql_times) * 1e3
        print(
            f"answers agree: slice value {got.aggregate.value:.6f} over {got.aggregate.count:,} rows, {groups - 1} feature/nested groups"
        )
        print(f"cold cache load (first query): {cold * 1e3:.0f} ms (cache loads: {cache.loads})")
        print(
            f"ours, warm cache: median {ours_ms:.1f} ms  (min {min(ours_times) * 1e3:.1f}, max {max(ours_times) * 1e3:.1f}) over {repeat} queries"
        )
        print(
            f"peer, SQL GROUP BY: median {sql_ms:.1f} ms  (min {min(sql_times) * 1e3:.1f}, max {max(sql_times) * 1e3:.1f})"
        )
        print(
            f"ratio peer/ours: {sql_ms / ours_ms:.1f}x   target: ours < 200 ms -> {'OK' if ours_ms < 200 else 'MISSED'}"
        )
        for round_ in range(2 if n_upload else 0):
            metrics = upload_rows(item_ids, n_upload, round_)
            t = time.perf_counter()
            async with transaction(sessions) as session:
                counts = await upload_custom_metrics(
                    session, model_run_id=str(run), metrics=metrics, max_rows=len(metrics)
                )
            upload_s = time.perf_counter() - t
            t = time.perf_counter()
            [after] = await ours()
            incremental = time.perf_counter() - t
            cold_cache, cache = cache, CustomMetricCache()
            t = time.perf_counter()
            [full] = await ours()
            reload = time.perf_counter() - t
            cache = cold_cache
            assert _answers(after) == _answers(full), "incremental refresh differs from a full load"
            _check(after, await sql())
            print(
                f"upload {round_ + 1}: {len(metrics):,} rows ({counts.updated:,} replaced, {counts.new:,} new) in {upload_s * 1e3:.0f} ms; "
                f"first query after it: {incremental * 1e3:.0f} ms (incremental refresh), "
                f"full reload {reload * 1e3:.0f} ms -> ratio full/incremental {reload / incremental:.1f}x  "
                f"target < 1 s -> {'OK' if incremental < 1 else 'MISSED'}"
            )
    finally:
        await engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=20_000, help="data rows (x50 stored values)")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--peer-repeat", type=int, default=5, help="peer queries (slow ones)")
    parser.add_argument("--postgres", action="store_true", help="use a fresh PostgreSQL database")
    parser.add_argument(
        "--upload",
        type=int,
        default=2_000,
        help="rows per upload for the first-query-after-an-upload figure (0: skip)",
    )
    args = parser.parse_args()
    if args.postgres:
        name = f"sliceboard_bench_{uuid.uuid4().hex[:8]}"
        asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
        url = str(
            sa.engine.make_url(PG_ADMIN_URL)
            .set(database=name)
            .render_as_string(hide_password=False)
        )
        try:
            upgrade(url)
            print(f"backend: PostgreSQL ({name})")
            asyncio.run(measure(url, args.items, args.repeat, args.peer_repeat, args.upload))
        finally:
            asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        print("backend: SQLite")
        asyncio.run(measure(url, args.items, args.repeat, args.peer_repeat, args.upload))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
