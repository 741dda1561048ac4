"""Relay connections with keyset cursors.

A cursor is the URL-safe base64 of ``"<kind>:<row id>"`` of the last row seen: opaque to
clients, stable under inserts. ``first`` defaults to 20; above ``Settings.max_page_size``
(100) it is a top-level error with code LIMIT_EXCEEDED (clamping would silently hand back
fewer rows than asked); a negative ``first`` or a cursor we did not issue is BAD_USER_INPUT.
``totalCount`` runs its COUNT only when selected.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.schema.context import Info
from sliceboard.schema.extensions import PublicError
from sliceboard.schema.fields import field
from sliceboard.schema.reading import deferred, read

NodeT = TypeVar("NodeT")
RowT = TypeVar("RowT")
DEFAULT_PAGE_SIZE = 20


ConnectionT = TypeVar("ConnectionT", bound="Connection[Any]")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type
class Connection(Generic[NodeT]):
    page_info: PageInfo
    edges: list[Edge[NodeT]]
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @field(description="All rows the connection selects, over every page.")
    async def total_count(self) -> int:
        return await self.count()


def encode_cursor(kind: str, row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{row_id}".encode()).decode()


def decode_cursor(kind: str, cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        prefix, _, raw = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        row_id = int(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        row_id = -1
        prefix = ""
    if prefix != kind or row_id < 0:
        raise PublicError(
            f"`after` is not a {kind} cursor from this connection", code="BAD_USER_INPUT"
        )
    return row_id


def page_size(info: Info, first: int | None) -> int:
    limit = info.context.runtime.settings.max_page_size
    if first is None:
        return min(DEFAULT_PAGE_SIZE, limit)
    if first < 0:
        raise PublicError("`first` must not be negative", code="BAD_USER_INPUT")
    if first > limit:
        raise PublicError(f"`first` may be at most {limit}", code="LIMIT_EXCEEDED")
    return first


def build_connection(
    connection: type[ConnectionT],
    *,
    kind: str,
    rows: Sequence[RowT],
    has_next: bool,
    after_id: int | None,
    node: Callable[[RowT], NodeT],
    row_id: Callable[[RowT], int],
    count: Callable[[], Awaitable[int]],
) -> ConnectionT:
    edges = [Edge(cursor=encode_cursor(kind, row_id(row)), node=node(row)) for row in rows]
    return connection(
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=after_id is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        edges=edges,
        count=count,
    )


async def read_page(
    info: Info,
    connection: type[ConnectionT],
    *,
    kind: str,
    node: Callable[[Any], Any],
    rows: Callable[[AsyncSession, int | None, int], Awaitable[Any]],
    count: Callable[[AsyncSession], Awaitable[int]],
    first: int | None,
    after: str | None,
) -> ConnectionT:
    """A connection read from storage: ``rows(session, after_id, limit)`` returns a page
    (``rows``, ``has_next``); ``count`` runs only when ``totalCount`` is selected."""
    limit, after_id = page_size(info, first), decode_cursor(kind, after)
    page = await read(info, lambda session: rows(session, after_id, limit))
    return build_connection(
        connection,
        kind=kind,
        rows=page.rows,
        has_next=page.has_next,
        after_id=after_id,
        node=node,
        row_id=lambda row: int(row.id or 0),
        count=deferred(info, count),
    )
