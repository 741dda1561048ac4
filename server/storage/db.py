"""Async engine and session setup for SQLite and PostgreSQL.

SQLite gets its pragmas on every new connection (WAL, foreign keys, synchronous=NORMAL, a busy
timeout): they are per-connection settings, so setting them once at start-up is not enough.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_POOL_SIZE = 20
WRITE_OPTION = "sliceboard_write"

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # aiosqlite's adapter opens an implicit transaction lazily; pragmas must run outside one.
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _on_sqlite_begin(conn: Any) -> None:
    # Writers take the lock up front: a deferred transaction that later upgrades to a writer
    # fails with "database is locked" instead of waiting on the busy timeout. Readers stay
    # deferred so WAL lets them run beside a writer.
    immediate = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


_DIGITS = str.maketrans("123456789", "000000000")


def json_loads(text: str | bytes) -> Any:
    """JSON columns decoded by orjson (~4x the standard library: ``json.loads`` was 3% of an
    item page's CPU). orjson reads an integer beyond 64 bits as a float without a word, and
    refuses ``NaN`` literals: text with 20 digits in a row (the shortest such integer) and
    whatever orjson refuses go to the standard library, so every stored value reads exactly."""
    if isinstance(text, bytes):
        text = text.decode()
    if "0" * 20 in text.translate(_DIGITS):
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(
            url,
            echo=echo,
            json_deserializer=json_loads,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            # Every request resolver opens its own short session; with the default 5 pooled
            # connections, 8 concurrent clients opened and closed overflow connections (a
            # thread, a file handle and four pragmas each) on every request.
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=SQLITE_POOL_SIZE,
        )
        sync_engine = engine.sync_engine
        event.listen(sync_engine, "connect", _on_sqlite_connect)
        # Let SQLAlchemy, not pysqlite, own transaction boundaries (BEGIN IMMEDIATE below).
        event.listen(sync_engine, "connect", _disable_pysqlite_autobegin)
        event.listen(sync_engine, "begin", _on_sqlite_begin)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        json_deserializer=json_loads,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
    )


def _disable_pysqlite_autobegin(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None


def dialect_of(session: AsyncSession) -> str:
    """``sqlite`` or ``postgresql``: the SQL a statement compiles to differs between them."""
    return session.get_bind().dialect.name


async def ping(engine: AsyncEngine) -> None:
    """One round trip to the database; raises when it does not answer."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def unreachable(url: str, timeout: float = 10.0) -> str | None:
    """Why the database at ``url`` cannot be used (one line, no URL), or None when it answers.

    The CLI asks before it migrates or serves, so a wrong host, a refused connection or a
    missing database is one clear line instead of a driver's traceback.
    """
    if is_sqlite(url):
        # the standard driver, in this thread: a failed aiosqlite connection leaves its
        # thread reporting to a loop that is gone
        try:
            sqlite3.connect(make_url(url).database or ":memory:", timeout=timeout).close()
        except sqlite3.Error as exc:
            return f"{type(exc).__name__}: {exc}"
        return None
    engine = create_engine(url)
    try:
        await asyncio.wait_for(ping(engine), timeout)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except Exception as exc:  # the drivers' errors share no base class
        reason = getattr(exc, "orig", None) or exc
        return f"{type(reason).__name__}: {str(reason).splitlines()[0] if str(reason) else ''}"
    finally:
        await engine.dispose()
    return None


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """The unit of work of one mutation or job step: commit on success, roll back on any error."""
    async with sessions() as session, session.begin():
        await session.connection(execution_options={WRITE_OPTION: True})
        yield session


@asynccontextmanager
async def read_session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session for queries: deferred transaction, so readers never wait for a writer."""
    async with sessions() as session:
        yield session
