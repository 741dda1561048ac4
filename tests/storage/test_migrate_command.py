"""``sliceboard migrate`` on a fresh PostgreSQL database: replicas and workers start together,
so several at once must all succeed (an advisory lock serialises them), and the password of
the database URL never reaches the output."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from sliceboard.storage.db import create_engine

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ADMIN_URL = os.environ.get(
    "SLICEBOARD_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


async def _admin(statement: str) -> None:
    engine = create_engine(ADMIN_URL)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()


async def _table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
            return set(rows.scalars())
    finally:
        await engine.dispose()


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """An empty PostgreSQL database (not migrated), dropped afterwards."""
    admin = sa.engine.make_url(ADMIN_URL)
    try:
        socket.create_connection((admin.host or "127.0.0.1", admin.port or 5432), timeout=1).close()
    except OSError:
        if os.environ.get("SLICEBOARD_REQUIRE_PG") == "1" or os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required here but not reachable at {ADMIN_URL}")
        pytest.skip("PostgreSQL not reachable")
    name = f"sliceboard_migrate_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_three_concurrent_migrations_on_a_fresh_database_all_succeed(fresh_pg_url: str) -> None:
    command = [sys.executable, "-m", "sliceboard.cli", "migrate", "--database-url", fresh_pg_url]
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=120)[0].decode() for process in processes]
    codes = [process.returncode for process in processes]
    assert codes == [0, 0, 0], "\n---\n".join(outputs)
    assert {"alembic_version", "job", "dataset"} <= asyncio.run(_table_names(fresh_pg_url))


def test_the_password_is_never_printed(fresh_pg_url: str) -> None:
    # The server trusts local connections, so any password works; "%40" is an encoded "@",
    # which alembic's configparser used to reject, printing the URL in its traceback.
    url = sa.engine.make_url(fresh_pg_url).set(password="s3cr@t-pw")
    rendered = url.render_as_string(hide_password=False)
    assert "s3cr%40t-pw" in rendered
    result = subprocess.run(
        [sys.executable, "-m", "sliceboard.cli", "migrate", "--database-url", rendered],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "s3cr" not in output
    assert f"migrated postgresql+asyncpg://postgres:***@{url.host}:{url.port}/" in result.stdout
