"""A Relay connection over one parent's children: the paged field beside a capped plain list
(``Item.annotationsConnection`` beside ``Item.annotations``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sqlmodel import SQLModel

from sliceboard.schema.context import Info
from sliceboard.schema.pagination import (
    ConnectionT,
    build_connection,
    decode_cursor,
    page_size,
)
from sliceboard.schema.reading import deferred, read
from sliceboard.services import child_pages

RowT = TypeVar("RowT", bound=SQLModel)
T = TypeVar("T")

CAPPED = (
    "At most SLICEBOARD_MAX_LIST_ITEMS (default 1,000) rows, in id order; "
    "page through all of them with {paged}."
)
ONE_PAGE = (
    "At most SLICEBOARD_MAX_PAGE_SIZE (default 100), in creation order; "
    "page through all of them with {paged}."
)


async def child_connection(
    info: Info,
    connection: type[ConnectionT],
    *,
    kind: str,
    table: type[RowT],
    parent: Mapping[str, int],
    first: int | None,
    after: str | None,
    node: Callable[[RowT], Any],
) -> ConnectionT:
    limit, after_id = page_size(info, first), decode_cursor(kind, after)
    page = await read(
        info,
        lambda s: child_pages.page_children(
            s, table=table, parent=parent, after_id=after_id, limit=limit
        ),
    )
    return build_connection(
        connection,
        kind=kind,
        rows=page.rows,
        has_next=page.has_next,
        after_id=after_id,
        node=node,
        row_id=lambda row: int(row.id or 0),  # type: ignore[attr-defined]
        count=deferred(info, lambda s: child_pages.count_children(s, table=table, parent=parent)),
    )


def capped(info: Info, rows: list[T]) -> list[T]:
    """The first ``Settings.max_list_items`` rows: the bound the cost limit counts."""
    return rows[: info.context.runtime.settings.max_list_items]


def one_page(info: Info, rows: list[T]) -> list[T]:
    """The first ``Settings.max_page_size`` rows of a catalog list (slices, runs, jobs)."""
    return rows[: info.context.runtime.settings.max_page_size]
