"""Execute the schema directly (no HTTP) against a real database, as strawberry's testing guide does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sliceboard.config import Settings
from sliceboard.runtime import Runtime
from tests.support.graphql import Executor


@pytest.fixture
async def sqlite_runtime(sqlite_url: str) -> AsyncIterator[Runtime]:
    runtime = Runtime.create(Settings(database_url=sqlite_url, run_jobs=False))
    yield runtime
    await runtime.close()


@pytest.fixture
def execute(runtime: Runtime) -> Executor:
    """On both backends."""
    return Executor(runtime)


@pytest.fixture
def execute_sqlite(sqlite_runtime: Runtime) -> Executor:
    """Where the backend does not matter (error shapes, limits)."""
    return Executor(sqlite_runtime)
