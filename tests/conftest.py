"""Shared fixtures: a clean, migrated database per test, on a real SQLite file and on the real
PostgreSQL of the machine (skipped where PostgreSQL is not reachable, required under CI).

Tests that take ``database_url`` (or anything built on it) run once per backend.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sliceboard.config import Settings
from sliceboard.runtime import Runtime
from sliceboard.storage.db import create_engine, create_sessionmaker
from sliceboard.storage.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "SLICEBOARD_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("SLICEBOARD_REQUIRE_PG") == "1" or os.environ.get("CI") == "true"


def _pg_reachable() -> bool:
    url = sa.engine.make_url(PG_ADMIN_URL)
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (faster than migrating every time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


async def _pg_admin(statement: str) -> None:
    engine = create_engine(PG_ADMIN_URL)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated once, dropped at the end."""
    if not _pg_reachable():
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required here but not reachable at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL not reachable")
    name = f"sliceboard_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    url = str(
        sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    )
    upgrade(url)
    yield url
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            names = (
                (
                    await connection.exec_driver_sql(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                    )
                )
                .scalars()
                .all()
            )
            if names:
                joined = ", ".join(f'"{name}"' for name in names)
                await connection.exec_driver_sql(f"TRUNCATE {joined} RESTART IDENTITY CASCADE")
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A clean migrated database of each backend."""
    if request.param == "sqlite":
        path = tmp_path / "sliceboard.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_database_url")
    asyncio.run(_truncate_all(url))
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A clean migrated SQLite file, for tests that are about SQLite itself."""
    path = tmp_path / "sliceboard.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(database: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(database)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, run_jobs=False, job_poll_seconds=0.05)


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime.create(settings)
    yield runtime
    await runtime.close()
