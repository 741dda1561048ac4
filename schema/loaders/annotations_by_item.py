"""The ground truth of many items in one statement (``Item.annotations``)."""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from sliceboard.runtime import Runtime
from sliceboard.services.reads import annotations_of_items
from sliceboard.storage import tables


class AnnotationsByItem(DataLoader[int, list[tables.Annotation]]):
    def __init__(self, runtime: Runtime) -> None:
        async def load(item_ids: Sequence[int]) -> list[list[tables.Annotation]]:
            async with runtime.reading() as session:
                return await annotations_of_items(session, item_ids=item_ids)

        super().__init__(load_fn=load)
