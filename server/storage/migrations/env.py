"""Alembic environment: runs the versioned migrations over an async engine, in one transaction
that holds the migration lock (see :mod:`sliceboard.storage.migration_lock`)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from sliceboard.storage import tables  # noqa: F401  (registers the tables on the metadata)
from sliceboard.storage.db import create_engine
from sliceboard.storage.migrate import DATABASE_URL
from sliceboard.storage.migration_lock import begin_locked

target_metadata = SQLModel.metadata


def _run(connection: Connection) -> None:
    # Our transaction, begun before alembic looks at the database: alembic then runs every
    # migration inside it, and the lock covers its reading of the current version.
    with begin_locked(connection):
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


asyncio.run(_run_async(context.config.attributes[DATABASE_URL]))
