"""Child rows of many parents in one statement: ``Dataset.slices``, ``Dataset.modelRuns``, ``Model.runs``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

from sqlmodel import SQLModel
from strawberry.dataloader import DataLoader

from sliceboard.runtime import Runtime
from sliceboard.services.reads import children_of

RowT = TypeVar("RowT", bound=SQLModel)


class ChildrenByParent(DataLoader[int, list[RowT]], Generic[RowT]):
    def __init__(self, runtime: Runtime, table: type[RowT], parent_column: str) -> None:
        async def load(parent_ids: Sequence[int]) -> list[list[RowT]]:
            async with runtime.reading() as session:
                return await children_of(
                    session, table=table, parent_column=parent_column, parent_ids=parent_ids
                )

        super().__init__(load_fn=load)
