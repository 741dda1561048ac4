"""The label taxonomy of many datasets in one statement (``Dataset.labels``)."""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from sliceboard.runtime import Runtime
from sliceboard.services.reads import labels_of_datasets


class LabelsByDataset(DataLoader[int, list[str]]):
    def __init__(self, runtime: Runtime) -> None:
        async def load(dataset_ids: Sequence[int]) -> list[list[str]]:
            async with runtime.reading() as session:
                return await labels_of_datasets(session, dataset_ids=dataset_ids)

        super().__init__(load_fn=load)
