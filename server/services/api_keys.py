"""API keys: create, list, revoke, and find the key a request presents.

A key reads ``sb_<public id>_<secret>`` (``sb_`` + 12 hex + ``_`` + 40 base62 characters, about
238 random bits): the prefix lets secret scanners spot a leaked key, the public id finds its row.
The database holds only HMAC-SHA-256 of the whole key under the server secret, so neither a copy
of the database nor its backups contain a usable key; a presented key is checked with a
constant-time comparison.

The server secret is ``SLICEBOARD_KEY_SECRET`` when set (then a stolen database cannot even be
used to test guesses); otherwise one is generated the first time it is needed and kept in the
``server_secret`` table, where every process of the deployment (server, workers, CLI) finds it.
Changing the secret invalidates every existing key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.errors import Conflict, InvalidInput, Issue, NotFound
from sliceboard.principal import SCOPES, Principal
from sliceboard.services.ids import parse_id
from sliceboard.services.validation import Issues
from sliceboard.services.validation.fields import LABEL_MAX, check_text
from sliceboard.storage import api_keys as store
from sliceboard.storage.pagination import Page
from sliceboard.storage.tables import ApiKey, utcnow

PREFIX = "sb_"
KEY_PATTERN = re.compile(r"sb_([0-9a-f]{12})_([0-9A-Za-z]{40})")
_ALPHABET = string.digits + string.ascii_letters
SECRET_NAME = "api_key_hmac"
MAX_KEY_DATASETS = 1_000
_DURATION = re.compile(r"(\d{1,6})([dhm])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


@dataclass(frozen=True)
class StoredKey:
    """A key as shown to admins: never its secret."""

    row: ApiKey
    dataset_ids: tuple[int, ...] | None

    @property
    def id(self) -> int:
        assert self.row.id is not None
        return self.row.id

    @property
    def principal(self) -> Principal:
        assert self.row.id is not None
        limited = frozenset(self.dataset_ids) if self.dataset_ids is not None else None
        return Principal(
            key_id=self.row.id, name=self.row.name, scope=self.row.scope, dataset_ids=limited
        )

    def usable_at(self, now: datetime) -> bool:
        return self.row.revoked_at is None and (
            self.row.expires_at is None or _aware(self.row.expires_at) > now
        )


def new_key() -> str:
    """A fresh, well-formed key (not stored): ``sliceboard keys generate`` prints one."""
    public_id = secrets.token_hex(6)
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(40))
    return f"{PREFIX}{public_id}_{secret}"


def public_id_of(key: str) -> str | None:
    """The public id of a well-formed key, else None."""
    match = KEY_PATTERN.fullmatch(key)
    return match.group(1) if match else None


def key_hash(server_secret: bytes, key: str) -> str:
    return hmac.new(server_secret, key.encode(), hashlib.sha256).hexdigest()


def matches(server_secret: bytes, key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(key_hash(server_secret, key), stored_hash)


async def server_secret(session: AsyncSession, *, configured: str) -> bytes:
    """The key-hashing secret: the configured one, else the generated one (created on first use)."""
    if configured:
        return configured.encode()
    stored = await store.select_server_secret(session=session, name=SECRET_NAME)
    if stored is None:
        stored = await store.insert_server_secret(
            session=session, name=SECRET_NAME, value=secrets.token_urlsafe(32)
        )
    return stored.encode()


def parse_duration(text: str, path: str) -> timedelta:
    """``90d``, ``12h`` or ``30m``."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise InvalidInput(
            [Issue(path, f"expected a duration such as 90d, 12h or 30m, got {text!r}")]
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


async def create_api_key(
    session: AsyncSession,
    *,
    secret: bytes,
    name: str,
    scope: str,
    dataset_ids: Sequence[str] | None,
    expires_at: datetime | None,
    key: str | None = None,
) -> tuple[StoredKey, str]:
    """A new key and its plaintext, which is shown once and never again.

    ``dataset_ids`` None: every dataset; a list: only these (each must exist). ``key`` stores a
    given well-formed key instead of a fresh one (the bootstrap admin key).
    """
    issues = Issues()
    checked_name = check_text(name, "input.name", issues, max_length=LABEL_MAX)
    if scope not in SCOPES:
        issues.add("input.scope", f"expected one of {', '.join(SCOPES)}, got {scope!r}")
    if expires_at is not None and _aware(expires_at) <= utcnow():
        issues.add("input.expiresAt", "must be in the future")
    limited = await _checked_datasets(session, dataset_ids, issues)
    issues.raise_if_any()
    assert checked_name is not None
    plaintext = key if key is not None else new_key()
    public_id = public_id_of(plaintext)
    if public_id is None:
        raise InvalidInput(
            [Issue("key", "not a well-formed key (sb_<12 hex>_<40 letters/digits>)")]
        )
    key_id = await store.insert_api_key(
        session=session,
        name=checked_name,
        public_id=public_id,
        secret_hash=key_hash(secret, plaintext),
        scope=scope,
        dataset_ids=limited,
        expires_at=expires_at,
    )
    if key_id is None:
        raise Conflict(f"an API key named {checked_name!r} already exists")
    row = await store.select_api_key(session=session, key_id=key_id)
    assert row is not None
    return StoredKey(row, tuple(sorted(set(limited))) if limited is not None else None), plaintext


async def _checked_datasets(
    session: AsyncSession, raw_ids: Sequence[str] | None, issues: Issues
) -> list[int] | None:
    if raw_ids is None:
        return None
    if len(raw_ids) > MAX_KEY_DATASETS:
        issues.add("input.datasetIds", f"at most {MAX_KEY_DATASETS} datasets per key")
        return []
    parsed = [parse_id(raw) for raw in raw_ids]
    found = await store.existing_dataset_ids(
        session=session, ids=[p for p in parsed if p is not None]
    )
    for i, (raw, value) in enumerate(zip(raw_ids, parsed, strict=True)):
        if value is None or value not in found:
            issues.add(f"input.datasetIds[{i}]", f"no dataset with id {raw!r}")
    return [p for p in parsed if p is not None]


async def dataset_ids_for_names(session: AsyncSession, *, names: Sequence[str]) -> list[str]:
    """The ids of datasets given by name (``keys create --dataset NAME``)."""
    found = await store.dataset_ids_by_names(session=session, names=names)
    missing = [
        Issue(f"--dataset[{i}]", f"no dataset named {n!r}")
        for i, n in enumerate(names)
        if n not in found
    ]
    if missing:
        raise InvalidInput(missing)
    return [str(found[name]) for name in names]


async def page_api_keys(
    session: AsyncSession, *, after_id: int | None, limit: int
) -> Page[StoredKey]:
    page = await store.page_api_keys(session=session, after_id=after_id, limit=limit)
    return Page(rows=await _with_datasets(session, page.rows), has_next=page.has_next)


async def count_api_keys(session: AsyncSession) -> int:
    return await store.count_api_keys(session=session)


async def count_usable_api_keys(session: AsyncSession) -> int:
    return await store.count_usable_api_keys(session=session, now=utcnow())


async def revoke_api_key(session: AsyncSession, *, key_id: str, path: str = "id") -> StoredKey:
    """Revokes the key (by id, or by name from the CLI); revoking twice keeps the first time."""
    row_id = parse_id(key_id)
    row = (
        await store.revoke_api_key(session=session, key_id=row_id, now=utcnow()) if row_id else None
    )
    if row is None:
        raise NotFound("ApiKey", key_id, path)
    return (await _with_datasets(session, [row]))[0]


async def key_id_by_name(session: AsyncSession, *, name: str) -> str:
    row = await store.select_api_key_by_name(session=session, name=name)
    if row is None:
        raise NotFound("ApiKey", name, "name")
    return str(row.id)


async def find_key(session: AsyncSession, *, public_id: str) -> StoredKey | None:
    """The stored key with this public id (usable or not), or None."""
    row = await store.select_api_key_by_public_id(session=session, public_id=public_id)
    if row is None:
        return None
    return (await _with_datasets(session, [row]))[0]


async def _with_datasets(session: AsyncSession, rows: Sequence[ApiKey]) -> list[StoredKey]:
    limits = await store.dataset_ids_of_keys(
        session=session, key_ids=[row.id for row in rows if row.dataset_limited and row.id]
    )
    return [
        StoredKey(row, tuple(limits.get(row.id, [])) if row.dataset_limited and row.id else None)
        for row in rows
    ]


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes: they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=utcnow().tzinfo)
