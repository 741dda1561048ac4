"""Real ``sliceboard serve`` processes for the client's tests: one per backend and test module
(each on its own fresh database), or one for a single test with its own settings."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from sliceboard.storage.db import create_engine
from sliceboard.storage.migrate import upgrade
from tests.support.serving import start_server

PG_ADMIN_URL = os.environ.get(
    "SLICEBOARD_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


async def _pg_admin(statement: str) -> None:
    engine = create_engine(PG_ADMIN_URL)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()


@contextmanager
def fresh_database(backend: str, folder: Path, sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty database of ``backend`` for the block (PostgreSQL: dropped after)."""
    if backend == "sqlite":
        path = folder / f"{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    name = f"sliceboard_client_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except OSError:
        if os.environ.get("SLICEBOARD_REQUIRE_PG") == "1" or os.environ.get("CI") == "true":
            raise
        pytest.skip("PostgreSQL not reachable")
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def server_on(database_url: str, *args: str, **settings: str) -> Iterator[str]:
    """``sliceboard serve`` on the database with ``SLICEBOARD_<NAME>`` settings; its base URL.
    Its output goes to a file (a pipe nobody reads would fill and stall the server)."""
    env = {**os.environ, "SLICEBOARD_JOB_POLL_SECONDS": "0.1"}
    env.update({f"SLICEBOARD_{name.upper()}": value for name, value in settings.items()})
    with tempfile.TemporaryFile() as log, tempfile.TemporaryDirectory() as files:
        # uploaded and exported files (servers with file jobs) stay out of the repository
        env.setdefault("SLICEBOARD_FILES_DIR", files)
        process, base = start_server(
            "--database-url", database_url, *args, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield base
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.seek(0)
            output = log.read().decode(errors="replace")
            assert "Traceback" not in output, output[-5000:]
