"""Per-request DataLoaders, one kind per module. ``Loaders.create`` gives a fresh set per
request; each loader is built on first use, since most requests touch one or two of them."""

from __future__ import annotations

from functools import cached_property

from sliceboard.runtime import Runtime
from sliceboard.schema.loaders.annotations_by_item import AnnotationsByItem
from sliceboard.schema.loaders.by_id import RowsById
from sliceboard.schema.loaders.children import ChildrenByParent
from sliceboard.schema.loaders.labels_by_dataset import LabelsByDataset
from sliceboard.schema.loaders.prediction_matches import PredictionMatches
from sliceboard.schema.loaders.predictions_by_item import PredictionsByItem
from sliceboard.storage import tables


class Loaders:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @classmethod
    def create(cls, runtime: Runtime) -> Loaders:
        return cls(runtime)

    @cached_property
    def dataset(self) -> RowsById[tables.Dataset]:
        return RowsById(self.runtime, tables.Dataset)

    @cached_property
    def item(self) -> RowsById[tables.Item]:
        return RowsById(self.runtime, tables.Item)

    @cached_property
    def annotation(self) -> RowsById[tables.Annotation]:
        return RowsById(self.runtime, tables.Annotation)

    @cached_property
    def prediction(self) -> RowsById[tables.Prediction]:
        return RowsById(self.runtime, tables.Prediction)

    @cached_property
    def prediction_match(self) -> PredictionMatches:
        return PredictionMatches(self.runtime)

    @cached_property
    def model(self) -> RowsById[tables.Model]:
        return RowsById(self.runtime, tables.Model)

    @cached_property
    def model_run(self) -> RowsById[tables.ModelRun]:
        return RowsById(self.runtime, tables.ModelRun)

    @cached_property
    def slice(self) -> RowsById[tables.Slice]:
        return RowsById(self.runtime, tables.Slice)

    @cached_property
    def annotations_by_item(self) -> AnnotationsByItem:
        return AnnotationsByItem(self.runtime)

    @cached_property
    def predictions_by_item(self) -> PredictionsByItem:
        return PredictionsByItem(self.runtime)

    @cached_property
    def labels_by_dataset(self) -> LabelsByDataset:
        return LabelsByDataset(self.runtime)

    @cached_property
    def slices_by_dataset(self) -> ChildrenByParent[tables.Slice]:
        return ChildrenByParent(self.runtime, tables.Slice, "dataset_id")

    @cached_property
    def runs_by_dataset(self) -> ChildrenByParent[tables.ModelRun]:
        return ChildrenByParent(self.runtime, tables.ModelRun, "dataset_id")

    @cached_property
    def runs_by_model(self) -> ChildrenByParent[tables.ModelRun]:
        return ChildrenByParent(self.runtime, tables.ModelRun, "model_id")
