"""Creating and dropping the benchmarks' own PostgreSQL databases."""

from __future__ import annotations

import os

PG_ADMIN_URL = os.environ.get(
    "SLICEBOARD_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


async def pg_admin(statement: str, admin_url: str = PG_ADMIN_URL) -> None:
    """One statement outside a transaction (CREATE / DROP DATABASE cannot run inside one)."""
    from sliceboard.storage.db import create_engine

    engine = create_engine(admin_url)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()
