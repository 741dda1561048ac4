"""Execute the schema directly (no HTTP) against a real database, as strawberry's testing guide does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import strawberry

from sliceboard.config import Settings
from sliceboard.runtime import Runtime
from sliceboard.schema.context import Context
from sliceboard.schema.schema import build_schema


class Executor:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.schema: strawberry.Schema = build_schema(runtime.settings)

    async def run(
        self, query: str, variables: dict[str, Any] | None = None
    ) -> tuple[Any, list[dict[str, Any]]]:
        """(data, errors as the client sees them)."""
        result = await self.schema.execute(
            query, variable_values=variables, context_value=Context.create(self.runtime)
        )
        return result.data, [dict(error.formatted) for error in result.errors or []]

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        data, errors = await self.run(query, variables)
        assert errors == []
        return data


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
