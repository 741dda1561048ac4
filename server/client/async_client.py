"""``AsyncClient``: every mutation and the common queries of a Sliceboard server, over HTTP.

Arguments that name a dataset, model, run, slice or job take the object the client returned
or its id. Rows (items, annotations, predictions, custom metrics) are dicts with the GraphQL
input's field names (``referenceId``, ``box: {x, y, width, height}``), as NDJSON files hold them.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from sliceboard.client import documents
from sliceboard.client.batching import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_ROWS,
    Batcher,
    BatchLimits,
    BatchTarget,
)
from sliceboard.client.errors import ConflictError, NotFoundError, UnsupportedByServerError
from sliceboard.client.files import EXPORT_FORMATS, IMPORT_FORMATS, format_name, yolo_zip
from sliceboard.client.jobs import AsyncJobHandle, JobFollower
from sliceboard.client.models import (
    Annotation,
    ApiKey,
    CreatedApiKey,
    Dataset,
    Evaluation,
    Item,
    Job,
    MetricsReport,
    Model,
    ModelRun,
    Prediction,
    PrPoint,
    Slice,
    UpsertResult,
)
from sliceboard.client.payloads import unwrap
from sliceboard.client.progress import Bar
from sliceboard.client.retry import RetryPolicy
from sliceboard.client.transport import Transport

JSON = dict[str, Any]
T = TypeVar("T")
Named = str | int | Dataset | Model | ModelRun | Slice | Job
DEFAULT_URL = "http://127.0.0.1:8000"
#: The server's ``SLICEBOARD_MAX_PAGE_SIZE`` default: the largest page a connection gives.
DEFAULT_PAGE_SIZE = 100

#: Each Mutation field of the server and the client method that calls it.
MUTATION_METHODS = {
    "createDataset": "create_dataset",
    "deleteDataset": "delete_dataset",
    "upsertItems": "upsert_items",
    "upsertAnnotations": "upsert_annotations",
    "createModel": "create_model",
    "createModelRun": "create_model_run",
    "upsertPredictions": "upsert_predictions",
    "upsertLabels": "upsert_labels",
    "createSlice": "create_slice",
    "uploadCustomMetrics": "upload_custom_metrics",
    "calculateEvaluationMetrics": "evaluate",
    "cancelJob": "cancel_job",
    "importFile": "import_file",
    "createApiKey": "create_api_key",
    "revokeApiKey": "revoke_api_key",
    "exportFile": "export",
}


def ident(value: Named) -> str:
    """The id of an object the client returned, or the id itself."""
    if isinstance(value, str | int):
        return str(value)
    return value.id


@dataclass(frozen=True)
class ExportResult:
    path: Path
    bytes: int
    format: str
    job: Job


class AsyncClient:
    """An async client of one server (``url``: its root or its ``/graphql``).

    ``api_key`` is sent as ``Authorization: Bearer``; ``retry`` says how often and how long
    idempotent calls are retried; ``batch_rows`` and ``batch_bytes`` start at the server's
    default limits and drop to what the server answers.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        api_key: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 120.0,
        batch_rows: int | None = None,
        batch_bytes: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        subscriptions: bool = True,
        poll_seconds: float = 0.5,
        progress: bool | None = None,
    ) -> None:
        self.transport = Transport(url, api_key, retry or RetryPolicy(), timeout)
        self.limits = BatchLimits(
            batch_rows or DEFAULT_MAX_ROWS, batch_bytes or DEFAULT_MAX_BODY_BYTES
        )
        self.page_size = page_size
        self.subscriptions = subscriptions
        self.poll_seconds = poll_seconds
        self.progress = progress
        self._batcher = Batcher(self.transport, self.limits)
        self._fields: dict[str, frozenset[str]] = {}

    @classmethod
    def from_env(cls, url: str | None = None, **options: Any) -> AsyncClient:
        """``SLICEBOARD_URL`` and ``SLICEBOARD_API_KEY`` unless given."""
        return cls(
            url or os.environ.get("SLICEBOARD_URL") or DEFAULT_URL,
            options.pop("api_key", None) or os.environ.get("SLICEBOARD_API_KEY") or None,
            **options,
        )

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- what the server has ------------------------------------------------------------------

    async def server_fields(self, type_name: str) -> frozenset[str]:
        """Field names of a type of the server's schema (input fields for an input type),
        read once by introspection: the client asks only for what the server has."""
        if type_name not in self._fields:
            data = await self.transport.execute(documents.TYPE_FIELDS, {"name": type_name})
            found = data.get("__type") or {}
            names = [f["name"] for f in (found.get("fields") or found.get("inputFields") or [])]
            self._fields[type_name] = frozenset(names)
        return self._fields[type_name]

    async def require(self, type_name: str, field: str) -> None:
        """Raises UnsupportedByServerError when the server has no such field."""
        if field not in await self.server_fields(type_name):
            raise UnsupportedByServerError(
                f"this server has no {type_name}.{field}; it is older than this client"
            )

    async def _jobs(self) -> JobFollower:
        present = await self.server_fields("Job")
        fields = [*documents.JOB_FIELDS]
        fields += [name for name in documents.EXTRA_JOB_FIELDS if name in present]
        return JobFollower(
            self.transport,
            " ".join(fields),
            subscribe=self.subscriptions,
            poll_seconds=self.poll_seconds,
        )

    def _progress(self, progress: bool | None) -> bool | None:
        return self.progress if progress is None else progress

    # --- catalog ------------------------------------------------------------------------------

    async def create_dataset(self, name: str, metadata: Any = None) -> Dataset:
        data = await self.transport.execute(
            documents.CREATE_DATASET,
            {"input": {"name": name, "metadata": metadata}},
            idempotent=False,
        )
        return Dataset.of(unwrap(data["createDataset"]))

    async def delete_dataset(self, dataset: Named) -> str:
        """Deletes the dataset with its items, annotations, runs and slices; its id."""
        data = await self.transport.execute(
            documents.DELETE_DATASET, {"id": ident(dataset)}, idempotent=False
        )
        return str(unwrap(data["deleteDataset"])["id"])

    async def dataset(self, id: Named | None = None, *, name: str | None = None) -> Dataset | None:
        """By id or by name; None when there is none."""
        variables = {"id": ident(id) if id is not None else None, "name": name}
        raw = (await self.transport.execute(documents.DATASET_BY, variables))["dataset"]
        return Dataset.of(raw) if raw is not None else None

    async def datasets(self) -> AsyncIterator[Dataset]:
        async for raw in self._pages(documents.DATASETS, {}, ("datasets",)):
            yield Dataset.of(raw)

    async def ensure_dataset(self, name: str, metadata: Any = None) -> Dataset:
        """The dataset of that name, created when missing."""
        return await self._ensure(
            lambda: self.dataset(name=name), lambda: self.create_dataset(name, metadata)
        )

    async def create_model(self, name: str, reference_id: str, metadata: Any = None) -> Model:
        data = await self.transport.execute(
            documents.CREATE_MODEL,
            {"input": {"name": name, "referenceId": reference_id, "metadata": metadata}},
            idempotent=False,
        )
        return Model.of(unwrap(data["createModel"]))

    async def model(
        self, id: Named | None = None, *, reference_id: str | None = None
    ) -> Model | None:
        variables = {"id": ident(id) if id is not None else None, "ref": reference_id}
        raw = (await self.transport.execute(documents.MODEL_BY, variables))["model"]
        return Model.of(raw) if raw is not None else None

    async def models(self) -> AsyncIterator[Model]:
        async for raw in self._pages(documents.MODELS, {}, ("models",)):
            yield Model.of(raw)

    async def ensure_model(self, reference_id: str, name: str | None = None) -> Model:
        """The model of that referenceId, created (named ``name`` or the referenceId) when missing."""
        return await self._ensure(
            lambda: self.model(reference_id=reference_id),
            lambda: self.create_model(name or reference_id, reference_id),
        )

    async def create_model_run(self, model: Named, dataset: Named, name: str) -> ModelRun:
        data = await self.transport.execute(
            documents.CREATE_MODEL_RUN,
            {"input": {"modelId": ident(model), "datasetId": ident(dataset), "name": name}},
            idempotent=False,
        )
        return ModelRun.of(unwrap(data["createModelRun"]))

    async def model_run(self, id: Named) -> ModelRun | None:
        raw = (await self.transport.execute(documents.MODEL_RUN, {"id": ident(id)}))["modelRun"]
        return ModelRun.of(raw) if raw is not None else None

    async def model_runs(self, dataset: Named) -> AsyncIterator[ModelRun]:
        """Runs of any model on the dataset, in creation order."""
        variables = {"id": ident(dataset)}
        async for raw in self._pages(
            documents.DATASET_RUNS, variables, ("dataset", "modelRunsConnection")
        ):
            yield ModelRun.of(raw)

    async def find_model_run(self, model: Named, dataset: Named, name: str) -> ModelRun | None:
        model_id = ident(model)
        async for run in self.model_runs(dataset):
            if run.model_id == model_id and run.name == name:
                return run
        return None

    async def ensure_model_run(self, model: Named, dataset: Named, name: str) -> ModelRun:
        """The run of that model on that dataset with that name, created when missing."""
        return await self._ensure(
            lambda: self.find_model_run(model, dataset, name),
            lambda: self.create_model_run(model, dataset, name),
        )

    async def _ensure(
        self, find: Callable[[], Awaitable[T | None]], create: Callable[[], Awaitable[T]]
    ) -> T:
        found = await find()
        if found is not None:
            return found
        try:
            return await create()
        except ConflictError:
            found = await find()  # another client created it meanwhile
            if found is None:
                raise
            return found

    async def create_slice(
        self,
        dataset: Named,
        name: str,
        *,
        filter: JSON | None = None,
        reference_ids: Sequence[str] | None = None,
    ) -> Slice:
        """A saved filter (dynamic), a fixed list of referenceIds, or both."""
        slice_input = {
            "datasetId": ident(dataset),
            "name": name,
            "filter": filter,
            "referenceIds": list(reference_ids) if reference_ids is not None else None,
        }
        data = await self.transport.execute(
            documents.CREATE_SLICE, {"input": slice_input}, idempotent=False
        )
        return Slice.of(unwrap(data["createSlice"]))

    async def slices(self, dataset: Named) -> AsyncIterator[Slice]:
        variables = {"id": ident(dataset)}
        async for raw in self._pages(
            documents.DATASET_SLICES, variables, ("dataset", "slicesConnection")
        ):
            yield Slice.of(raw)

    # --- API keys (servers with authentication; an admin key) ----------------------------------

    async def create_api_key(
        self,
        name: str,
        scope: str = "READ",
        *,
        dataset_ids: Sequence[Named] | None = None,
        expires_at: datetime | None = None,
    ) -> CreatedApiKey:
        """A new key (scope READ, WRITE or ADMIN, optionally limited to datasets); its secret
        is in this answer only."""
        await self.require("Mutation", "createApiKey")
        key_input: JSON = {"name": name, "scope": scope.upper()}
        if dataset_ids is not None:
            key_input["datasetIds"] = [ident(d) for d in dataset_ids]
        if expires_at is not None:
            key_input["expiresAt"] = expires_at.isoformat()
        data = await self.transport.execute(
            documents.CREATE_API_KEY, {"input": key_input}, idempotent=False
        )
        created = unwrap(data["createApiKey"])
        return CreatedApiKey(created["secret"], ApiKey.of(created["apiKey"]))

    async def revoke_api_key(self, key: str | ApiKey) -> ApiKey:
        """The key stops working at once."""
        await self.require("Mutation", "revokeApiKey")
        key_id = key.id if isinstance(key, ApiKey) else key
        data = await self.transport.execute(documents.REVOKE_API_KEY, {"id": key_id})
        return ApiKey.of(unwrap(data["revokeApiKey"]))

    # --- uploads ------------------------------------------------------------------------------

    async def upsert_items(
        self,
        dataset: Named,
        items: Iterable[Mapping[str, Any]],
        *,
        update: bool = False,
        progress: bool | None = None,
    ) -> UpsertResult:
        """Items by referenceId, in batches under the server's limits; the summed counts.
        ``update`` replaces existing rows; without it they are kept as they are."""
        target = BatchTarget(
            documents.upsert("upsertItems", "datasetId", "items", "ItemInput"),
            "upsertItems",
            "items",
            {"id": ident(dataset), "update": update},
        )
        return await self._batches(target, items, progress)

    async def upsert_annotations(
        self,
        dataset: Named,
        annotations: Iterable[Mapping[str, Any]],
        *,
        update: bool = False,
        progress: bool | None = None,
    ) -> UpsertResult:
        """Ground truth keyed by (referenceId, annotationId); the items must exist."""
        target = BatchTarget(
            documents.upsert("upsertAnnotations", "datasetId", "annotations", "AnnotationInput"),
            "upsertAnnotations",
            "annotations",
            {"id": ident(dataset), "update": update},
        )
        return await self._batches(target, annotations, progress)

    async def upsert_predictions(
        self,
        run: Named,
        predictions: Iterable[Mapping[str, Any]],
        *,
        update: bool = False,
        progress: bool | None = None,
    ) -> UpsertResult:
        """A run's predictions keyed by (referenceId, annotationId)."""
        target = BatchTarget(
            documents.upsert("upsertPredictions", "modelRunId", "predictions", "PredictionInput"),
            "upsertPredictions",
            "predictions",
            {"id": ident(run), "update": update},
        )
        return await self._batches(target, predictions, progress)

    async def upload_custom_metrics(
        self, run: Named, metrics: Iterable[Mapping[str, Any]], *, progress: bool | None = None
    ) -> UpsertResult:
        """Scalar or confusion-matrix metrics per data row (and feature), batched."""
        target = BatchTarget(
            documents.UPLOAD_CUSTOM_METRICS, "uploadCustomMetrics", "metrics", {"id": ident(run)}
        )
        return await self._batches(target, metrics, progress)

    async def _batches(
        self, target: BatchTarget, rows: Iterable[Mapping[str, Any]], progress: bool | None
    ) -> UpsertResult:
        total = len(rows) if isinstance(rows, Sequence) else None
        with Bar(target.field, total, "rows", self._progress(progress)) as bar:
            return await self._batcher.upload(target, rows, bar.advance)

    async def upsert_labels(
        self,
        run: Named,
        annotation_ids: Sequence[str] | None = None,
        *,
        all: bool | None = None,
    ) -> ModelRun:
        """Choose the ground truth the run is judged against: all, or these annotationIds."""
        data = await self.transport.execute(
            documents.UPSERT_LABELS,
            {
                "run": ident(run),
                "ids": list(annotation_ids) if annotation_ids is not None else None,
                "all": all,
            },
        )
        return ModelRun.of(unwrap(data["upsertLabels"]))

    # --- evaluation and jobs ------------------------------------------------------------------

    async def evaluate(
        self,
        run: Named,
        *,
        matching: str | None = None,
        class_agnostic: bool | None = None,
        allowed_label_matches: Sequence[tuple[str, str]] | None = None,
        iou_thresholds: Sequence[float] | None = None,
        max_detections: int | None = None,
        empty_classes: str | None = None,
    ) -> AsyncJobHandle:
        """Queue an evaluation of the run; ``await (await client.evaluate(run)).wait()``."""
        options: JSON = {}
        if matching is not None:
            options["matching"] = matching
        if class_agnostic is not None:
            options["classAgnostic"] = class_agnostic
        if allowed_label_matches is not None:
            options["allowedLabelMatches"] = [
                {"groundTruthLabel": gt, "modelPredictionLabel": pred}
                for gt, pred in allowed_label_matches
            ]
        if iou_thresholds is not None:
            options["iouThresholds"] = list(iou_thresholds)
        if max_detections is not None:
            options["maxDetections"] = max_detections
        if empty_classes is not None:
            options["emptyClasses"] = empty_classes
        follower = await self._jobs()
        data = await self.transport.execute(
            documents.evaluate(follower.job_fields),
            {"run": ident(run), "options": options or None},
        )
        return AsyncJobHandle(follower, Job.of(unwrap(data["calculateEvaluationMetrics"])))

    async def job(self, id: Named) -> Job | None:
        return await (await self._jobs()).read(ident(id))

    async def job_handle(self, id: Named) -> AsyncJobHandle:
        """A handle on an existing job, to wait for it."""
        follower = await self._jobs()
        job = await follower.read(ident(id))
        if job is None:
            raise NotFoundError(f"no job with id {ident(id)!r}")
        return AsyncJobHandle(follower, job)

    async def cancel_job(self, job: Named) -> Job:
        """A queued job ends at once, a running one when its handler next checks."""
        return await (await self._jobs()).cancel(ident(job))

    async def run_jobs(self, run: Named) -> list[Job]:
        """The run's jobs, newest first."""
        follower = await self._jobs()
        data = await self.transport.execute(
            documents.run_jobs(follower.job_fields), {"id": ident(run)}
        )
        found = data["modelRun"]
        if found is None:
            raise NotFoundError(f"no model run with id {ident(run)!r}")
        return [Job.of(raw) for raw in found["jobs"]]

    async def evaluation(self, run: Named) -> Evaluation | None:
        """The run's current evaluation (None before the first completes)."""
        data = await self.transport.execute(documents.EVALUATION_OF, {"id": ident(run)})
        found = data["modelRun"]
        if found is None:
            raise NotFoundError(f"no model run with id {ident(run)!r}")
        return Evaluation.of(found["evaluation"]) if found["evaluation"] else None

    # --- reading ------------------------------------------------------------------------------

    async def items(self, dataset: Named, *, filter: JSON | None = None) -> AsyncIterator[Item]:
        """The dataset's items in upload order (optionally an ItemFilter), every page."""
        variables = {"id": ident(dataset), "filter": filter}
        async for raw in self._pages(documents.ITEMS, variables, ("dataset", "items")):
            yield Item.of(raw)

    async def annotations(
        self, dataset: Named, *, labels: Sequence[str] | None = None
    ) -> AsyncIterator[Annotation]:
        variables = {"id": ident(dataset), "labels": list(labels) if labels else None}
        async for raw in self._pages(documents.ANNOTATIONS, variables, ("dataset", "annotations")):
            yield Annotation.of(raw)

    async def predictions(
        self,
        run: Named,
        *,
        filter: JSON | None = None,
        order_by: str | None = None,
        iou_threshold: float = 0.5,
    ) -> AsyncIterator[Prediction]:
        """A run's predictions (a PredictionFilter: outcome, labels, ranges, items)."""
        variables = {"id": ident(run), "filter": filter, "order": order_by, "iou": iou_threshold}
        async for raw in self._pages(documents.PREDICTIONS, variables, ("modelRun", "predictions")):
            yield Prediction.of(raw)

    async def false_negatives(
        self,
        run: Named,
        *,
        filter: JSON | None = None,
        iou_threshold: float = 0.5,
        labels: Sequence[str] | None = None,
    ) -> AsyncIterator[Annotation]:
        variables = {
            "id": ident(run),
            "filter": filter,
            "iou": iou_threshold,
            "labels": list(labels) if labels else None,
        }
        async for raw in self._pages(
            documents.FALSE_NEGATIVES, variables, ("modelRun", "falseNegatives")
        ):
            yield Annotation.of(raw)

    async def metrics(
        self,
        run: Named,
        *,
        filter: JSON | None = None,
        slice: Named | None = None,
        iou_threshold: float = 0.5,
        confidence_threshold: float = 0.0,
        labels: Sequence[str] | None = None,
    ) -> MetricsReport:
        """The run's metrics over the items of a filter and/or slice (needs an evaluation)."""
        data = await self.transport.execute(
            documents.METRICS,
            self._metrics_variables(
                run, filter, slice, iou_threshold, confidence_threshold, labels
            ),
        )
        found = data["modelRun"]
        if found is None:
            raise NotFoundError(f"no model run with id {ident(run)!r}")
        return MetricsReport.of(found["metrics"])

    async def precision_recall_curve(
        self,
        run: Named,
        label: str | None = None,
        *,
        filter: JSON | None = None,
        slice: Named | None = None,
        iou_threshold: float = 0.5,
    ) -> list[PrPoint]:
        """One label's PR curve (all labels pooled without one)."""
        variables = self._metrics_variables(run, filter, slice, iou_threshold, 0.0, None)
        data = await self.transport.execute(documents.PR_CURVE, {**variables, "label": label})
        found = data["modelRun"]
        if found is None:
            raise NotFoundError(f"no model run with id {ident(run)!r}")
        curve = found["metrics"]["precisionRecallCurve"]
        return [PrPoint(p["recall"], p["precision"], p["confidence"]) for p in curve]

    async def custom_metrics(
        self,
        run: Named,
        *,
        filter: JSON | None = None,
        slice: Named | None = None,
        names: Sequence[str] | None = None,
    ) -> list[JSON]:
        """User-uploaded metrics aggregated over a filter and/or slice, as the server's JSON."""
        data = await self.transport.execute(
            documents.CUSTOM_METRICS,
            {
                "id": ident(run),
                "filter": filter,
                "slice": ident(slice) if slice is not None else None,
                "names": list(names) if names else None,
            },
        )
        found = data["modelRun"]
        if found is None:
            raise NotFoundError(f"no model run with id {ident(run)!r}")
        return list(found["customMetrics"])

    @staticmethod
    def _metrics_variables(
        run: Named,
        filter: JSON | None,
        slice: Named | None,
        iou_threshold: float,
        confidence_threshold: float,
        labels: Sequence[str] | None,
    ) -> JSON:
        return {
            "id": ident(run),
            "filter": filter,
            "slice": ident(slice) if slice is not None else None,
            "iou": iou_threshold,
            "confidence": confidence_threshold,
            "labels": list(labels) if labels else None,
        }

    async def _pages(
        self, document: str, variables: JSON, path: tuple[str, ...]
    ) -> AsyncIterator[JSON]:
        after: str | None = None
        while True:
            data = await self.transport.execute(
                document, {**variables, "first": self.page_size, "after": after}
            )
            node: Any = data
            for key in path:
                node = node[key]
                if node is None:
                    raise NotFoundError(f"no {key} with id {variables.get('id')!r}")
            for edge in node["edges"]:
                yield edge["node"]
            if not node["pageInfo"]["hasNextPage"]:
                return
            after = node["pageInfo"]["endCursor"]

    # --- files --------------------------------------------------------------------------------

    async def import_file(
        self,
        format: str,
        path: str | Path,
        *,
        dataset: Named | None = None,
        run: Named | None = None,
        update: bool = True,
        images_root: str | None = None,
        wait: bool = True,
        timeout: float | None = None,
        progress: bool | None = None,
    ) -> AsyncJobHandle:
        """Upload a file as one import job (all-or-nothing on the server); with ``wait`` the
        handle comes back finished (``handle.result`` holds the counts) or
        :class:`JobFailedError` names the file's problems."""
        await self.require("Mutation", "importFile")
        kind = format_name(format, IMPORT_FORMATS)
        file = Path(path)
        if dataset is None:
            if run is None:
                raise ValueError("an import needs a dataset or a run")
            found = await self.model_run(run)
            if found is None:
                raise NotFoundError(f"no model run with id {ident(run)!r}")
            dataset = found.dataset_id
        import_input: JSON = {
            "format": kind,
            "file": None,
            "datasetId": ident(dataset),
            "update": update,
        }
        if run is not None:
            import_input["modelRunId"] = ident(run)
        if images_root is not None:
            import_input["imagesRoot"] = images_root
        follower = await self._jobs()
        shown = self._progress(progress)
        with Bar(f"upload {file.name}", file.stat().st_size, "B", shown, unit_scale=True) as bar:
            data = await self.transport.upload(
                documents.import_file(follower.job_fields),
                {"input": import_input},
                "input.file",
                file,
                bar.advance,
            )
        handle = AsyncJobHandle(follower, Job.of(unwrap(data["importFile"])))
        if wait:
            await handle.wait(timeout, progress=shown)
        return handle

    async def import_coco(
        self,
        path: str | Path,
        dataset: Named,
        *,
        images_root: str | None = None,
        update: bool = True,
        wait: bool = True,
        timeout: float | None = None,
        progress: bool | None = None,
    ) -> AsyncJobHandle:
        """A COCO instances or person-keypoints file as the dataset's items and ground truth."""
        return await self.import_file(
            "COCO",
            path,
            dataset=dataset,
            images_root=images_root,
            update=update,
            wait=wait,
            timeout=timeout,
            progress=progress,
        )

    async def import_coco_results(
        self,
        path: str | Path,
        run: Named,
        *,
        update: bool = True,
        wait: bool = True,
        timeout: float | None = None,
        progress: bool | None = None,
    ) -> AsyncJobHandle:
        """A detector's COCO results list as the run's predictions (file order kept)."""
        return await self.import_file(
            "COCO_RESULTS",
            path,
            run=run,
            update=update,
            wait=wait,
            timeout=timeout,
            progress=progress,
        )

    async def import_yolo(
        self,
        path: str | Path,
        dataset: Named,
        *,
        run: Named | None = None,
        update: bool = True,
        wait: bool = True,
        timeout: float | None = None,
        progress: bool | None = None,
    ) -> AsyncJobHandle:
        """YOLO labels (a folder with ``labels/`` and ``data.yaml``/``classes.txt``, or its zip)
        as ground truth, or as a run's predictions when ``run`` is given."""
        source = Path(path)
        packed = yolo_zip(source) if source.is_dir() else None
        try:
            return await self.import_file(
                "YOLO",
                packed or source,
                dataset=dataset,
                run=run,
                update=update,
                wait=wait,
                timeout=timeout,
                progress=progress,
            )
        finally:
            if packed is not None:
                packed.unlink(missing_ok=True)

    async def import_ndjson(
        self,
        path: str | Path,
        dataset: Named,
        *,
        run: Named | None = None,
        update: bool = True,
        wait: bool = True,
        timeout: float | None = None,
        progress: bool | None = None,
    ) -> AsyncJobHandle:
        """One JSON object per line (items, annotations, or with ``run`` predictions and custom
        metrics), with the GraphQL inputs' field names."""
        return await self.import_file(
            "NDJSON",
            path,
            dataset=dataset,
            run=run,
            update=update,
            wait=wait,
            timeout=timeout,
            progress=progress,
        )

    async def export(
        self,
        format: str,
        out: str | Path,
        *,
        dataset: Named | None = None,
        run: Named | None = None,
        filter: JSON | None = None,
        slice: Named | None = None,
        iou_threshold: float = 0.5,
        confidence_threshold: float = 0.0,
        timeout: float | None = None,
        progress: bool | None = None,
    ) -> ExportResult:
        """Run an export job and download its file to ``out`` (streamed)."""
        await self.require("Mutation", "exportFile")
        kind = format_name(format, EXPORT_FORMATS)
        export_input: JSON = {
            "format": kind,
            "iouThreshold": iou_threshold,
            "confidenceThreshold": confidence_threshold,
        }
        if dataset is not None:
            export_input["datasetId"] = ident(dataset)
        if run is not None:
            export_input["modelRunId"] = ident(run)
        if filter is not None:
            export_input["filter"] = filter
        if slice is not None:
            export_input["sliceId"] = ident(slice)
        follower = await self._jobs()
        data = await self.transport.execute(
            documents.export_file(follower.job_fields), {"input": export_input}
        )
        handle = AsyncJobHandle(follower, Job.of(unwrap(data["exportFile"])))
        shown = self._progress(progress)
        job = await handle.wait(timeout, progress=shown)
        result = job.result if isinstance(job.result, dict) else {}
        if "downloadUrl" not in result:
            raise UnsupportedByServerError(f"export job {job.id} succeeded without a downloadUrl")
        target = Path(out)
        with Bar(
            f"download {target.name}", result.get("bytes"), "B", shown, unit_scale=True
        ) as bar:
            written = await self.transport.download(result["downloadUrl"], target, bar.advance)
        return ExportResult(target, written, str(result.get("format", kind)), job)
