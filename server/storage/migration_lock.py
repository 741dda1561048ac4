"""One migration at a time per database, so replicas and workers can start together.

Without it, two processes migrating a fresh PostgreSQL database both create the same tables and
one fails on a duplicate ``pg_type`` key. The lock is taken inside the migration's transaction,
before alembic reads the current version, so a process that waited sees the work of the one
that went first and has nothing left to do:

- PostgreSQL: ``pg_advisory_xact_lock`` on a fixed key, released when the transaction ends;
- SQLite: ``BEGIN IMMEDIATE`` (the database's write lock), which also waits out other writers.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sliceboard.storage.db import WRITE_OPTION

# An arbitrary fixed 64-bit key ("sliceboard migrate"): every process must use the same one.
MIGRATION_LOCK_KEY = 0x51_1CEB_0A4D_0001


def begin_locked(connection: Connection) -> sa.RootTransaction:
    """Begin the migration's transaction with the migration lock held until it ends."""
    if connection.dialect.name == "sqlite":
        # The engine's begin listener (storage.db) turns this option into BEGIN IMMEDIATE.
        connection.execution_options(**{WRITE_OPTION: True})
    transaction = connection.begin()
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
        )
    return transaction
