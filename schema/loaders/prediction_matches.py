"""(IoU, matched annotation id) of predictions in their run's visible evaluation, batched per
run: one snapshot lookup answers every prediction of a page."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from sliceboard.runtime import Runtime
from sliceboard.services.evaluation.browse import prediction_matches
from sliceboard.services.reads import row_by_id
from sliceboard.storage import tables

MatchKey = tuple[int, int, float]  # (model run id, prediction id, IoU threshold)
Match = tuple[float | None, int | None]


class PredictionMatches(DataLoader[MatchKey, Match]):
    def __init__(self, runtime: Runtime) -> None:
        async def load(keys: Sequence[MatchKey]) -> list[Match]:
            groups: dict[tuple[int, float], list[int]] = defaultdict(list)
            for run_id, prediction_id, threshold in keys:
                groups[(run_id, threshold)].append(prediction_id)
            found: dict[MatchKey, Match] = {}
            async with runtime.reading() as session:
                for (run_id, threshold), ids in groups.items():
                    run = await row_by_id(session, table=tables.ModelRun, id=run_id)
                    if run is None:
                        continue
                    matches = await prediction_matches(
                        session,
                        runtime.snapshot_cache,
                        run=run,
                        prediction_ids=ids,
                        iou_threshold=threshold,
                    )
                    for prediction_id, match in matches.items():
                        found[(run_id, prediction_id, threshold)] = match
            return [found.get(key, (None, None)) for key in keys]

        super().__init__(load_fn=load)
