"""What one app holds while it runs: settings, the database, the job wake-up signals, the
compute machinery and the caches over it.

Built by the app's lifespan (or by ``sliceboard worker``) and handed down explicitly, so no
module keeps a global database, cache or worker: two runtimes in one process share nothing, and
``close`` stops exactly this one's workers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sliceboard.compute.machinery import Compute
from sliceboard.config import Settings
from sliceboard.services.custom_metrics_cache import CustomMetricCache
from sliceboard.services.evaluation.cache import SnapshotCache
from sliceboard.storage.db import create_engine, create_sessionmaker, read_session, transaction


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
    notifier: Notifier = field(default_factory=Notifier)
    # Set by whoever runs jobs in this process; services call it after committing a new job.
    wake_jobs: Callable[[], None] = lambda: None
    # Set by the app's authenticator; called with a key's public id after it is revoked here,
    # so this process stops accepting it at once.
    forget_key: Callable[[str], None] = lambda _public_id: None

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        database = create_engine(settings.database_url)
        compute = Compute()
        return cls(
            settings=settings,
            database=database,
            sessions=create_sessionmaker(database),
            compute=compute,
            snapshot_cache=SnapshotCache(
                worker=compute.report_worker, thread=compute.report_thread
            ),
            custom_metric_cache=CustomMetricCache(),
        )

    async def close(self) -> None:
        """Stops this runtime's workers, then closes its database connections."""
        await self.compute.close()
        await self.database.dispose()

    def unit_of_work(self) -> AbstractAsyncContextManager[AsyncSession]:
        """The write transaction of one mutation: commits when the block ends, rolls back on any
        error. The caller opens it; the services it hands the session to never commit."""
        return transaction(self.sessions)

    def reading(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A session for queries only (a deferred transaction, so readers never wait for a writer)."""
        return read_session(self.sessions)
