"""Two apps in one process share no cache and no worker, and each app's shutdown stops its own
workers and leaves the other's running."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import httpx

from sliceboard.app import create_app
from sliceboard.compute.process_guard import pid_alive
from sliceboard.config import Settings
from sliceboard.runtime import Runtime
from tests.support.graphql import GraphQLClient


async def worker_pids(runtime: Runtime) -> set[int]:
    """The processes behind the runtime's report worker and process pool (started if need be)."""
    compute = runtime.compute
    return {
        await compute.report_worker.call(0, os.getpid),
        await compute.process_pool.run(os.getpid),
    }


async def report_thread_id(runtime: Runtime) -> int:
    return await asyncio.wrap_future(runtime.compute.report_thread.submit(0, threading.get_ident))


async def test_two_apps_share_nothing_and_each_closes_its_own(
    tmp_path: Path, sqlite_template: Path
) -> None:
    # migrated databases: starting reads the API keys (sliceboard.authentication)
    for name in ("first", "second"):
        shutil.copyfile(sqlite_template, tmp_path / f"{name}.db")
    apps = [
        create_app(
            Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / name}.db", run_jobs=False),
            migrate=False,
        )
        for name in ("first", "second")
    ]
    first, second = (app.state.runtime for app in apps)
    async with apps[0].router.lifespan_context(apps[0]):
        async with apps[1].router.lifespan_context(apps[1]):
            assert first.snapshot_cache is not second.snapshot_cache
            assert first.custom_metric_cache is not second.custom_metric_cache
            first_pids, second_pids = await worker_pids(first), await worker_pids(second)
            assert len(first_pids) == len(second_pids) == 2
            assert first_pids.isdisjoint(second_pids)
            assert os.getpid() not in first_pids | second_pids
            assert await report_thread_id(first) != await report_thread_id(second)
            assert first.snapshot_cache.compute is first.compute.report_thread
            assert second.snapshot_cache.compute is second.compute.report_thread

        # the second app shut down: its workers are gone, the first's still serve
        assert not any(pid_alive(pid) for pid in second_pids)
        assert not second.compute.report_thread.is_running()
        assert all(pid_alive(pid) for pid in first_pids)
        assert await worker_pids(first) == first_pids
        assert first.compute.report_thread.is_running()

    assert not any(pid_alive(pid) for pid in first_pids)
    assert not first.compute.report_thread.is_running()


async def test_each_app_checks_inputs_against_its_own_limits(tmp_path: Path) -> None:
    """Input bounds are per app (a context variable set per request), not per process: two
    apps alive at once, the strict one built first, each answer by their own bound."""
    strict = create_app(
        Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 's.db'}", max_coordinate=100.0)
    )
    loose = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'l.db'}"))
    async with strict.router.lifespan_context(strict), loose.router.lifespan_context(loose):
        answers = [
            await _box_at_500(app, name)
            for app, name in ((strict, "a"), (loose, "b"), (strict, "c"))
        ]
    assert answers == ["InvalidInputError", "UpsertResult", "InvalidInputError"]


async def _box_at_500(app: Any, name: str) -> str:
    """Uploads a box at x = 500 into a new dataset ``name`` of ``app``; the payload's type name."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        client = GraphQLClient(http)
        created = await client.data(
            "mutation($n: String!) { createDataset(input: {name: $n}) { ... on Dataset { id } } }",
            {"n": name},
        )
        dataset_id = created["createDataset"]["id"]
        await client.data(
            'mutation($d: ID!) { upsertItems(datasetId: $d, items: [{referenceId: "i"}]) '
            "{ __typename } }",
            {"d": dataset_id},
        )
        answer = await client.data(
            "mutation($d: ID!) { upsertAnnotations(datasetId: $d, annotations: ["
            '{referenceId: "i", annotationId: "a", label: "car", '
            "box: {x: 500, y: 0, width: 10, height: 10}}]) { __typename } }",
            {"d": dataset_id},
        )
    return str(answer["upsertAnnotations"]["__typename"])
