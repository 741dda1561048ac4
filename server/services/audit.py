"""The audit log of mutations: who did what to which dataset, when, and how it ended.

The entry of a mutation in flight is ``in_flight`` (a context variable set by the GraphQL layer
around each root mutation field). The runtime's unit of work writes it with outcome ``OK`` just
before it commits, so a mutation and its entry land together or not at all; when the mutation
rolls back (an error payload, an exception) the GraphQL layer writes the entry with the error
code in a transaction of its own, so a refused or failed mutation is logged too.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.services import reads
from sliceboard.services.ids import parse_id
from sliceboard.storage import audit as audit_store
from sliceboard.storage.pagination import Page
from sliceboard.storage.tables import AuditEntry, ModelRun, utcnow

OK = "OK"
MAX_MESSAGE_CHARS = 500


@dataclass(frozen=True)
class DatasetHint:
    """How to find the dataset a mutation touches, from its arguments: its id, the id of one
    of its runs, or (for a dataset being created) its name."""

    dataset_id: int | None = None
    model_run_id: int | None = None
    dataset_name: str | None = None


@dataclass
class PendingEntry:
    operation: str
    key_id: int | None
    key_name: str | None
    dataset: DatasetHint
    #: False once the mutation's resolver has returned: no later unit of work writes it.
    open: bool = True
    #: The entry's id once written in the mutation's own transaction (outcome OK).
    written_id: int | None = None


in_flight: ContextVar[PendingEntry | None] = ContextVar("sliceboard_audit", default=None)


async def resolve_dataset(session: AsyncSession, hint: DatasetHint) -> int | None:
    if hint.dataset_id is not None:
        return hint.dataset_id
    if hint.model_run_id is not None:
        run = await reads.row_by_id(session, table=ModelRun, id=hint.model_run_id)
        return run.dataset_id if run is not None else None
    if hint.dataset_name is not None:
        dataset = await reads.dataset_by_name(session, name=hint.dataset_name)
        return dataset.id if dataset is not None else None
    return None


def _clipped(message: str | None) -> str | None:
    if message is None or len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[: MAX_MESSAGE_CHARS - 1] + "…"


async def record(
    session: AsyncSession, pending: PendingEntry, *, outcome: str, message: str | None = None
) -> int:
    """Writes the entry of ``pending`` in the session's transaction; its id."""
    entry = AuditEntry(
        at=utcnow(),
        key_id=pending.key_id,
        key_name=pending.key_name,
        operation=pending.operation,
        dataset_id=await resolve_dataset(session, pending.dataset),
        outcome=outcome,
        message=_clipped(message),
    )
    return await audit_store.insert_audit_entry(session=session, entry=entry)


async def record_in_flight(session: AsyncSession) -> tuple[PendingEntry, int] | None:
    """For the unit of work about to commit: writes the entry of the mutation in flight (once
    per mutation); (that mutation's entry, the new row's id), or None."""
    pending = in_flight.get()
    if pending is None or not pending.open or pending.written_id is not None:
        return None
    return pending, await record(session, pending, outcome=OK)


async def correct_outcome(
    session: AsyncSession, entry_id: int, *, outcome: str, message: str | None
) -> None:
    """A mutation whose entry was written with an earlier commit ended in an error after all."""
    await audit_store.update_audit_outcome(
        session=session, entry_id=entry_id, outcome=outcome, message=_clipped(message)
    )


@dataclass(frozen=True)
class AuditFilter:
    dataset_id: str | None = None
    key_id: str | None = None
    operation: str | None = None

    def ids(self) -> tuple[int | None, int | None] | None:
        """(dataset id, key id); None when an id given cannot name anything (empty answer)."""
        dataset = parse_id(self.dataset_id) if self.dataset_id is not None else None
        key = parse_id(self.key_id) if self.key_id is not None else None
        if (self.dataset_id is not None and dataset is None) or (
            self.key_id is not None and key is None
        ):
            return None
        return dataset, key


async def page_entries(
    session: AsyncSession, *, where: AuditFilter, before_id: int | None, limit: int
) -> Page[AuditEntry]:
    ids = where.ids()
    if ids is None:
        return Page(rows=[], has_next=False)
    return await audit_store.page_audit_entries(
        session=session,
        before_id=before_id,
        limit=limit,
        dataset_id=ids[0],
        key_id=ids[1],
        operation=where.operation,
    )


async def count_entries(session: AsyncSession, *, where: AuditFilter) -> int:
    ids = where.ids()
    if ids is None:
        return 0
    return await audit_store.count_audit_entries(
        session=session, dataset_id=ids[0], key_id=ids[1], operation=where.operation
    )
