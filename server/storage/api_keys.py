"""SQL of API keys, their dataset limits and the server's generated secrets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.storage.pagination import Page, fetch_page
from sliceboard.storage.tables import ApiKey, ApiKeyDataset, Dataset, ServerSecret, core, utcnow

API_KEY = core(ApiKey)
KEY_DATASET = core(ApiKeyDataset)
SECRET = core(ServerSecret)
DATASET = core(Dataset)


def _insert(session: AsyncSession) -> type[sa.Insert]:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert  # type: ignore[return-value]


async def insert_api_key(
    *,
    session: AsyncSession,
    name: str,
    public_id: str,
    secret_hash: str,
    scope: str,
    dataset_ids: Sequence[int] | None,
    expires_at: datetime | None,
) -> int | None:
    """The new key's id, or None when its name (or public id) is taken."""
    statement = (
        _insert(session)(API_KEY)
        .values(
            name=name,
            public_id=public_id,
            secret_hash=secret_hash,
            scope=scope,
            dataset_limited=dataset_ids is not None,
            created_at=utcnow(),
            expires_at=expires_at,
        )
        .on_conflict_do_nothing()  # type: ignore[attr-defined]
        .returning(API_KEY.c.id)
    )
    key_id: int | None = (await session.execute(statement)).scalar_one_or_none()
    if key_id is not None and dataset_ids:
        await session.execute(
            sa.insert(KEY_DATASET),
            [{"api_key_id": key_id, "dataset_id": d} for d in sorted(set(dataset_ids))],
        )
    return key_id


async def select_api_key(*, session: AsyncSession, key_id: int) -> ApiKey | None:
    return await session.get(ApiKey, key_id)


async def select_api_key_by_public_id(*, session: AsyncSession, public_id: str) -> ApiKey | None:
    statement = sa.select(ApiKey).where(API_KEY.c.public_id == public_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def select_api_key_by_name(*, session: AsyncSession, name: str) -> ApiKey | None:
    statement = sa.select(ApiKey).where(API_KEY.c.name == name)
    return (await session.execute(statement)).scalar_one_or_none()


async def page_api_keys(*, session: AsyncSession, after_id: int | None, limit: int) -> Page[ApiKey]:
    """Keys in id order after ``after_id``."""
    return await fetch_page(
        session=session,
        statement=sa.select(ApiKey),
        id_column=API_KEY.c.id,
        after_id=after_id,
        limit=limit,
    )


async def count_api_keys(*, session: AsyncSession) -> int:
    statement = sa.select(sa.func.count()).select_from(API_KEY)
    return int((await session.execute(statement)).scalar_one())


async def count_usable_api_keys(*, session: AsyncSession, now: datetime) -> int:
    """Keys neither revoked nor expired."""
    statement = (
        sa.select(sa.func.count())
        .select_from(API_KEY)
        .where(API_KEY.c.revoked_at.is_(None))
        .where(sa.or_(API_KEY.c.expires_at.is_(None), API_KEY.c.expires_at > now))
    )
    return int((await session.execute(statement)).scalar_one())


async def dataset_ids_of_keys(
    *, session: AsyncSession, key_ids: Sequence[int]
) -> dict[int, list[int]]:
    """The datasets each key is limited to (keys without rows are absent)."""
    if not key_ids:
        return {}
    statement = (
        sa.select(KEY_DATASET.c.api_key_id, KEY_DATASET.c.dataset_id)
        .where(KEY_DATASET.c.api_key_id.in_(sorted(set(key_ids))))
        .order_by(KEY_DATASET.c.api_key_id, KEY_DATASET.c.dataset_id)
    )
    found: dict[int, list[int]] = {}
    for key_id, dataset_id in (await session.execute(statement)).all():
        found.setdefault(int(key_id), []).append(int(dataset_id))
    return found


async def revoke_api_key(*, session: AsyncSession, key_id: int, now: datetime) -> ApiKey | None:
    """Marks the key revoked (kept when already revoked); None when there is no such key."""
    await session.execute(
        sa.update(API_KEY)
        .where(API_KEY.c.id == key_id)
        .where(API_KEY.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    key = await session.get(ApiKey, key_id)
    if key is not None:
        await session.refresh(key)
    return key


async def dataset_ids_by_names(*, session: AsyncSession, names: Sequence[str]) -> dict[str, int]:
    if not names:
        return {}
    statement = sa.select(DATASET.c.name, DATASET.c.id).where(DATASET.c.name.in_(set(names)))
    return {str(name): int(row_id) for name, row_id in (await session.execute(statement)).all()}


async def existing_dataset_ids(*, session: AsyncSession, ids: Sequence[int]) -> set[int]:
    if not ids:
        return set()
    statement = sa.select(DATASET.c.id).where(DATASET.c.id.in_(sorted(set(ids))))
    return {int(row_id) for row_id in (await session.execute(statement)).scalars()}


async def select_server_secret(*, session: AsyncSession, name: str) -> str | None:
    statement = sa.select(SECRET.c.value).where(SECRET.c.name == name)
    value: str | None = (await session.execute(statement)).scalar_one_or_none()
    return value


async def insert_server_secret(*, session: AsyncSession, name: str, value: str) -> str:
    """Stores ``value`` under ``name`` unless another process did first; answers the stored one."""
    await session.execute(
        _insert(session)(SECRET)
        .values(name=name, value=value, created_at=utcnow())
        .on_conflict_do_nothing()  # type: ignore[attr-defined]
    )
    stored = await select_server_secret(session=session, name=name)
    assert stored is not None
    return stored
