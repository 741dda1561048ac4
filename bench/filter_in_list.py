"""IN / NOT_IN filter benchmark: 10,000 values against 10,000 items, SQLite and PostgreSQL.

    python bench/filter_in_list.py [--items 10000] [--values 10000] [--repeats 7] [--pg URL]

Times ``item_filter_clause`` + ``select_item_ids`` (what ``Dataset.items`` and every metrics
filter run) for ``metadata.k IN [...]`` and ``NOT_IN`` with ``--values`` mixed numbers and
strings, median wall milliseconds. The peer is the former compilation, one OR-ed equality per
value, timed on 990 values (at 1,000 SQLite refused it: "Expression tree is too large");
``EQ 1`` shows what the scan of the items' metadata costs by itself.
PostgreSQL runs when ``--pg`` (default: the local test server) is reachable; a temporary
database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.pg_admin import PG_ADMIN_URL, pg_admin  # noqa: E402
from sliceboard.storage import filters, tables  # noqa: E402
from sliceboard.storage.db import (  # noqa: E402
    create_engine,
    create_sessionmaker,
    read_session,
    transaction,
)
from sliceboard.storage.filters import item_filter_clause  # noqa: E402
from sliceboard.storage.migrate import upgrade_async  # noqa: E402
from sliceboard.storage.reads import select_item_ids  # noqa: E402


async def _fill(url: str, n_items: int) -> int:
    await upgrade_async(url)
    engine = create_engine(url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            dataset = tables.Dataset(name="bench")
            session.add(dataset)
            await session.flush()
            assert dataset.id is not None
            session.add_all(
                tables.Item(
                    dataset_id=dataset.id,
                    reference_id=f"r{i}",
                    metadata_={"k": i if i % 2 else f"s{i}"},
                )
                for i in range(n_items)
            )
            return dataset.id
    finally:
        await engine.dispose()


def _or_of_equalities(values: list[Any], dialect: str) -> Any:
    """The former IN: one definite equality per value, OR-ed."""
    json_value = filters._SqliteJson(["k"]) if dialect == "sqlite" else filters._PgJson(["k"])
    return sa.or_(*(filters._definite(json_value.equals(v)) for v in values))


async def _time(url: str, dataset_id: int, values: list[Any], repeats: int) -> dict[str, float]:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    out: dict[str, float] = {}
    try:
        async with read_session(sessions) as session:
            dialect = session.get_bind().dialect.name
            peer = values[:990]
            cases: dict[str, Any] = {
                f"IN {len(values)}": {"metadata": {"field": "k", "op": "IN", "value": values}},
                f"NOT_IN {len(values)}": {
                    "metadata": {"field": "k", "op": "NOT_IN", "value": values}
                },
                "IN 990": {"metadata": {"field": "k", "op": "IN", "value": peer}},
                "EQ 1 (the scan alone)": {"metadata": {"field": "k", "op": "EQ", "value": 1}},
            }
            for name, filter in cases.items():
                out[name] = await _median(session, repeats, item_filter_clause, filter, dataset_id)
            in_dataset = tables.Item.__table__.c.dataset_id == dataset_id  # type: ignore[attr-defined]
            where = sa.and_(in_dataset, _or_of_equalities(peer, dialect))
            out["peer: OR of 990 equalities"] = await _median(
                session, repeats, lambda *_a, **_k: where, None, dataset_id
            )
    finally:
        await engine.dispose()
    return out


async def _median(session: Any, repeats: int, clause: Any, filter: Any, dataset_id: int) -> float:
    dialect = session.get_bind().dialect.name
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        where = clause(filter, dataset_id=dataset_id, model_run_id=None, dialect=dialect)
        await select_item_ids(session=session, where=where)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--values", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--pg", default=PG_ADMIN_URL)
    args = parser.parse_args()
    # Every other value matches an item (numbers and strings alike).
    values: list[Any] = [i if i % 2 else f"s{i}" for i in range(0, 2 * args.values, 2)]
    values = [v if i % 2 == 0 else i * 1.0 + 0.5 for i, v in enumerate(values)]
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        dataset_id = await _fill(url, args.items)
        _report("sqlite", await _time(url, dataset_id, values, args.repeats))
    name = f"bench_in_{uuid.uuid4().hex[:8]}"
    try:
        await pg_admin(f'CREATE DATABASE "{name}"', args.pg)
    except Exception as error:  # a bench without PostgreSQL still reports SQLite
        print(f"postgresql: skipped ({type(error).__name__})")
        return
    url = sa.engine.make_url(args.pg).set(database=name).render_as_string(hide_password=False)
    try:
        dataset_id = await _fill(url, args.items)
        _report("postgresql", await _time(url, dataset_id, values, args.repeats))
    finally:
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', args.pg)


def _report(backend: str, timings: dict[str, float]) -> None:
    for name, ms in timings.items():
        print(f"{backend:10s} {name:28s} {ms:8.1f} ms")
    ratio = timings["peer: OR of 990 equalities"] / timings["IN 990"]
    print(f"{backend:10s} 990 values: one bound list is {ratio:.1f}x faster than the OR chain")


if __name__ == "__main__":
    asyncio.run(main())
