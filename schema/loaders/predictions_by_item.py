"""Predictions of many items keyed by (model run id, item id): one statement per run in a batch
(``Item.predictions(modelRunId)``)."""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from sliceboard.runtime import Runtime
from sliceboard.services.reads import predictions_of_items
from sliceboard.storage import tables


class PredictionsByItem(DataLoader[tuple[int, int], list[tables.Prediction]]):
    def __init__(self, runtime: Runtime) -> None:
        async def load(keys: Sequence[tuple[int, int]]) -> list[list[tables.Prediction]]:
            async with runtime.reading() as session:
                return await predictions_of_items(session, keys=keys)

        super().__init__(load_fn=load)
