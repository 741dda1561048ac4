"""``Query.auditLog``: the mutations the server ran, newest first, for admins."""

from __future__ import annotations

from datetime import datetime

import strawberry

from sliceboard.principal import is_admin, principal_of
from sliceboard.schema.context import Info
from sliceboard.schema.extensions import PublicError
from sliceboard.schema.pagination import Connection, read_page
from sliceboard.schema.scalars import utc
from sliceboard.services import audit
from sliceboard.storage import tables


@strawberry.type(description="One mutation the server ran (or refused).")
class AuditEntry:
    id: strawberry.ID
    at: datetime
    key_id: strawberry.ID | None = strawberry.field(
        description="The API key that asked; null for an anonymous caller (auth off)."
    )
    key_name: str | None
    operation: str = strawberry.field(description="The Mutation field, e.g. `deleteDataset`.")
    dataset_id: strawberry.ID | None = strawberry.field(
        description="The dataset it touched, when its arguments name one (kept after a delete)."
    )
    outcome: str = strawberry.field(
        description="`OK`, or the error code it answered (NOT_FOUND, INVALID_INPUT, FORBIDDEN...)."
    )
    message: str | None = strawberry.field(description="The error's message, if it failed.")

    @classmethod
    def from_row(cls, row: tables.AuditEntry) -> AuditEntry:
        return cls(
            id=strawberry.ID(str(row.id)),
            at=utc(row.at),
            key_id=strawberry.ID(str(row.key_id)) if row.key_id is not None else None,
            key_name=row.key_name,
            operation=row.operation,
            dataset_id=strawberry.ID(str(row.dataset_id)) if row.dataset_id is not None else None,
            outcome=row.outcome,
            message=row.message,
        )


@strawberry.type
class AuditEntryConnection(Connection[AuditEntry]):
    pass


async def audit_log(
    info: Info,
    first: int | None = None,
    after: str | None = None,
    dataset_id: strawberry.ID | None = None,
    key_id: strawberry.ID | None = None,
    operation: str | None = None,
) -> AuditEntryConnection:
    if not is_admin(principal_of(info.context)):
        raise PublicError("auditLog needs a key with scope admin", code="FORBIDDEN", scope="admin")
    where = audit.AuditFilter(dataset_id=dataset_id, key_id=key_id, operation=operation)
    return await read_page(
        info,
        AuditEntryConnection,
        kind="AuditEntry",
        node=AuditEntry.from_row,
        rows=lambda s, after_id, limit: audit.page_entries(
            s, where=where, before_id=after_id, limit=limit
        ),
        count=lambda s: audit.count_entries(s, where=where),
        first=first,
        after=after,
    )
