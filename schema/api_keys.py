"""GraphQL side of API keys: ``viewer`` (who the request is, so a page can choose which buttons to
show), ``apiKeys``, ``createApiKey`` and ``revokeApiKey`` (admin keys not limited to datasets;
see schema/permissions.py). A created key's secret is in the answer once and nowhere else."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.errors import SliceboardError
from sliceboard.principal import Principal
from sliceboard.schema.context import Info
from sliceboard.schema.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    error_payload,
    fit_union,
)
from sliceboard.schema.pagination import Connection, read_page
from sliceboard.schema.scalars import utc
from sliceboard.services import api_keys


@strawberry.enum(
    description="read: queries, subscriptions; write: uploads, evaluations, slices; admin: deletes and keys."
)
class ApiKeyScope(Enum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


@strawberry.type(
    description="Who this request is. With authentication off: `anonymous`, scope ADMIN."
)
class Viewer:
    name: str
    scope: ApiKeyScope
    authenticated: bool = strawberry.field(
        description="False when the server runs with --auth off."
    )
    key_id: strawberry.ID | None
    dataset_ids: list[strawberry.ID] | None = strawberry.field(
        description="The datasets this key is limited to; null: every dataset."
    )

    @classmethod
    def of(cls, principal: Principal) -> Viewer:
        return cls(
            name=principal.name,
            scope=ApiKeyScope(principal.scope),
            authenticated=principal.key_id is not None,
            key_id=strawberry.ID(str(principal.key_id)) if principal.key_id is not None else None,
            dataset_ids=_ids(principal.dataset_ids),
        )


@strawberry.type(description="An API key as admins see it: never its secret.")
class ApiKey:
    id: strawberry.ID
    name: str
    scope: ApiKeyScope
    prefix: str = strawberry.field(
        description="The key's public start (sb_<public id>_), to recognise it in a secret scanner's report."
    )
    dataset_ids: list[strawberry.ID] | None = strawberry.field(
        description="The datasets this key is limited to; null: every dataset."
    )
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, stored: api_keys.StoredKey) -> ApiKey:
        row = stored.row
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            scope=ApiKeyScope(row.scope),
            prefix=f"{api_keys.PREFIX}{row.public_id}_",
            dataset_ids=_ids(stored.dataset_ids),
            created_at=utc(row.created_at),
            expires_at=utc(row.expires_at) if row.expires_at is not None else None,
            revoked_at=utc(row.revoked_at) if row.revoked_at is not None else None,
        )


@strawberry.type
class ApiKeyConnection(Connection[ApiKey]):
    pass


@strawberry.type(
    description="The new key: `secret` is shown this once and stored only as a keyed hash."
)
class CreatedApiKey:
    secret: str
    api_key: ApiKey


@strawberry.input
class CreateApiKeyInput:
    name: str
    scope: ApiKeyScope
    dataset_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Limit the key to these datasets; omitted: every dataset."
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="When the key stops working; omitted: never."
    )


CreateApiKeyPayload = Annotated[
    CreatedApiKey | InvalidInputError | ConflictError, strawberry.union("CreateApiKeyPayload")
]
RevokeApiKeyPayload = Annotated[ApiKey | NotFoundError, strawberry.union("RevokeApiKeyPayload")]


def _ids(ids: frozenset[int] | tuple[int, ...] | None) -> list[strawberry.ID] | None:
    return None if ids is None else [strawberry.ID(str(i)) for i in sorted(ids)]


def viewer(info: Info) -> Viewer:
    principal = info.context.principal
    assert principal is not None  # schema/permissions.py refuses an operation without one
    return Viewer.of(principal)


async def api_key_page(
    info: Info, first: int | None = None, after: str | None = None
) -> ApiKeyConnection:
    return await read_page(
        info,
        ApiKeyConnection,
        kind="ApiKey",
        node=ApiKey.of,
        rows=lambda s, after_id, limit: api_keys.page_api_keys(s, after_id=after_id, limit=limit),
        count=api_keys.count_api_keys,
        first=first,
        after=after,
    )


async def create_api_key(info: Info, input: CreateApiKeyInput) -> CreateApiKeyPayload:
    settings = info.context.runtime.settings

    async def work(session: AsyncSession) -> CreatedApiKey:
        secret = await api_keys.server_secret(session, configured=settings.key_secret)
        stored, plaintext = await api_keys.create_api_key(
            session,
            secret=secret,
            name=input.name,
            scope=input.scope.value,
            dataset_ids=[str(i) for i in input.dataset_ids]
            if input.dataset_ids is not None
            else None,
            expires_at=input.expires_at,
        )
        return CreatedApiKey(secret=plaintext, api_key=ApiKey.of(stored))

    try:
        async with info.context.runtime.unit_of_work() as session:
            return await work(session)
    except SliceboardError as exc:
        return fit_union(error_payload(exc), (InvalidInputError, ConflictError))  # type: ignore[return-value]


async def revoke_api_key(info: Info, id: strawberry.ID) -> RevokeApiKeyPayload:
    runtime = info.context.runtime
    try:
        async with runtime.unit_of_work() as session:
            stored = await api_keys.revoke_api_key(session, key_id=str(id))
    except SliceboardError as exc:
        return fit_union(error_payload(exc), (NotFoundError,))  # type: ignore[return-value]
    runtime.forget_key(stored.row.public_id)
    return ApiKey.of(stored)
