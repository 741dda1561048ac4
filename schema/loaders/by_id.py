"""Rows by primary key, for any table: ``Annotation.item``, ``ModelRun.dataset``, ``query { dataset(id) }``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

from sqlmodel import SQLModel
from strawberry.dataloader import DataLoader

from sliceboard.runtime import Runtime
from sliceboard.services.reads import rows_in_key_order

RowT = TypeVar("RowT", bound=SQLModel)


class RowsById(DataLoader[int, RowT | None], Generic[RowT]):
    def __init__(self, runtime: Runtime, table: type[RowT]) -> None:
        async def load(ids: Sequence[int]) -> list[RowT | None]:
            async with runtime.reading() as session:
                return await rows_in_key_order(session, table=table, ids=ids)

        super().__init__(load_fn=load)
