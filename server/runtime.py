"""What one app holds while it runs: settings, the database, the job wake-up signals, the
compute machinery and the caches over it.

Built by the app's lifespan (or by ``sliceboard worker``) and handed down explicitly, so no
module keeps a global database, cache or worker: two runtimes in one process share nothing, and
``close`` stops exactly this one's workers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field

from prometheus_client.metrics_core import Metric
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sliceboard.compute.machinery import Compute
from sliceboard.config import Settings
from sliceboard.metrics import Metrics, counter, gauge, single_gauge
from sliceboard.rate_limits import TokenBuckets
from sliceboard.services import audit
from sliceboard.services.custom_metrics_cache import CustomMetricCache
from sliceboard.services.evaluation.cache import SnapshotCache
from sliceboard.storage.db import create_engine, create_sessionmaker, read_session, transaction

SECONDS_PER_HOUR = 3600.0


class Notifier:
    """Per-key wake-ups inside one process (job progress, queue has work).

    Other processes are not reached: listeners also poll the database, so this only
    shortens the wait.
    """

    def __init__(self) -> None:
        self._events: dict[object, asyncio.Event] = {}
        self._waiters: dict[object, int] = {}

    def notify(self, key: object) -> None:
        event = self._events.pop(key, None)
        if event is not None:
            event.set()

    async def wait(self, key: object, timeout: float) -> bool:
        event = self._events.setdefault(key, asyncio.Event())
        self._waiters[key] = self._waiters.get(key, 0) + 1
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        finally:
            # The last waiter on a key takes its event away, so keys nobody waits on any more
            # do not pile up.
            remaining = self._waiters[key] - 1
            if remaining:
                self._waiters[key] = remaining
            else:
                del self._waiters[key]
                if self._events.get(key) is event:
                    del self._events[key]
        return True


@dataclass
class Runtime:
    settings: Settings
    database: AsyncEngine  # SQLAlchemy's engine; "the engine" elsewhere is sliceboard.evaluation
    sessions: async_sessionmaker[AsyncSession]
    compute: Compute
    snapshot_cache: SnapshotCache
    custom_metric_cache: CustomMetricCache
    metrics: Metrics
    # calculateEvaluationMetrics per (caller, run): None when the limit is off.
    evaluation_limit: TokenBuckets | None
    notifier: Notifier = field(default_factory=Notifier)
    # Set by whoever runs jobs in this process; services call it after committing a new job.
    wake_jobs: Callable[[], None] = lambda: None
    # Set by the app's authenticator; called with a key's public id after it is revoked here,
    # so this process stops accepting it at once.
    forget_key: Callable[[str], None] = lambda _public_id: None
    # Whether a job runner runs in this process (/metrics tells).
    runs_jobs: bool = False

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        database = create_engine(settings.database_url)
        compute = Compute()
        per_hour = settings.evaluations_per_run_per_hour
        runtime = cls(
            settings=settings,
            database=database,
            sessions=create_sessionmaker(database),
            compute=compute,
            snapshot_cache=SnapshotCache(
                worker=compute.report_worker,
                thread=compute.report_thread,
                arrays_budget=settings.browse_cache_mb * 2**20,
            ),
            custom_metric_cache=CustomMetricCache(),
            metrics=Metrics(max_operations=settings.metrics_max_operations),
            evaluation_limit=TokenBuckets(
                rate=per_hour / SECONDS_PER_HOUR,
                burst=per_hour,
                max_keys=settings.rate_limit_max_clients,
            )
            if per_hour > 0
            else None,
        )
        runtime.metrics.sample(runtime._machinery_samples)
        return runtime

    def _machinery_samples(self) -> Iterator[Metric]:
        """Gauges of this process's machinery, read when /metrics is scraped."""
        pool = self.database.sync_engine.pool
        size = getattr(pool, "size", None)
        if callable(size):
            yield single_gauge(
                "sliceboard_db_pool_size", "Connections the pool keeps open.", size()
            )
            yield gauge(
                "sliceboard_db_pool_connections",
                "Database connections of this process by state.",
                {"in_use": pool.checkedout(), "idle": pool.checkedin()},  # type: ignore[attr-defined]
                "state",
            )
        alive = self.compute.workers_alive()
        alive["jobs"] = int(self.runs_jobs)
        yield gauge(
            "sliceboard_workers_alive",
            "Live workers of this process: job runner, evaluation processes, report process.",
            {role: float(count) for role, count in alive.items()},
            "role",
        )
        cache = self.snapshot_cache
        yield counter(
            "sliceboard_snapshot_cache_lookups",
            "Evaluation snapshot lookups answered from memory (hit) or loaded (miss).",
            {"hit": cache.hits, "miss": cache.misses},
            "result",
        )
        yield single_gauge(
            "sliceboard_snapshot_cache_entries",
            "Evaluation snapshots held in memory.",
            cache.size(),
        )

    async def close(self) -> None:
        """Stops this runtime's workers, then closes its database connections."""
        await self.compute.close()
        await self.database.dispose()

    def unit_of_work(self) -> AbstractAsyncContextManager[AsyncSession]:
        """The write transaction of one mutation: commits when the block ends, rolls back on any
        error. The caller opens it; the services it hands the session to never commit.

        Inside a GraphQL mutation, the mutation's audit entry is written in it just before the
        commit (``sliceboard.services.audit``): the two land together or not at all."""
        return self._audited_transaction()

    @asynccontextmanager
    async def _audited_transaction(self) -> AsyncIterator[AsyncSession]:
        written = None
        async with transaction(self.sessions) as session:
            yield session
            written = await audit.record_in_flight(session)
        if written is not None:  # committed: the entry is there
            pending, entry_id = written
            pending.written_id = entry_id

    def reading(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A session for queries only (a deferred transaction, so readers never wait for a writer)."""
        return read_session(self.sessions)
