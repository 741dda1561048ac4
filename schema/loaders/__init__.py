"""Per-request DataLoaders, one kind per module; ``Loaders.create`` builds a fresh set per request."""

from __future__ import annotations

from dataclasses import dataclass

from schema.loaders.annotations_by_item import AnnotationsByItem
from schema.loaders.by_id import RowsById
from schema.loaders.children import ChildrenByParent
from schema.loaders.labels_by_dataset import LabelsByDataset
from schema.loaders.prediction_matches import PredictionMatches
from schema.loaders.predictions_by_item import PredictionsByItem
from server.runtime import Runtime
from server.storage import tables


@dataclass(frozen=True)
class Loaders:
    dataset: RowsById[tables.Dataset]
    item: RowsById[tables.Item]
    annotation: RowsById[tables.Annotation]
    prediction: RowsById[tables.Prediction]
    prediction_match: PredictionMatches
    model: RowsById[tables.Model]
    model_run: RowsById[tables.ModelRun]
    slice: RowsById[tables.Slice]
    annotations_by_item: AnnotationsByItem
    predictions_by_item: PredictionsByItem
    labels_by_dataset: LabelsByDataset
    slices_by_dataset: ChildrenByParent[tables.Slice]
    runs_by_dataset: ChildrenByParent[tables.ModelRun]
    runs_by_model: ChildrenByParent[tables.ModelRun]

    @classmethod
    def create(cls, runtime: Runtime) -> Loaders:
        return cls(
            dataset=RowsById(runtime, tables.Dataset),
            item=RowsById(runtime, tables.Item),
            annotation=RowsById(runtime, tables.Annotation),
            prediction=RowsById(runtime, tables.Prediction),
            prediction_match=PredictionMatches(runtime),
            model=RowsById(runtime, tables.Model),
            model_run=RowsById(runtime, tables.ModelRun),
            slice=RowsById(runtime, tables.Slice),
            annotations_by_item=AnnotationsByItem(runtime),
            predictions_by_item=PredictionsByItem(runtime),
            labels_by_dataset=LabelsByDataset(runtime),
            slices_by_dataset=ChildrenByParent(runtime, tables.Slice, "dataset_id"),
            runs_by_dataset=ChildrenByParent(runtime, tables.ModelRun, "dataset_id"),
            runs_by_model=ChildrenByParent(runtime, tables.ModelRun, "model_id"),
        )
