"""``Client``: the blocking face of :class:`AsyncClient`, for scripts and notebooks.

It runs one AsyncClient on a private event loop in a background thread, so it works the same
inside a program that already runs a loop (Jupyter). Each method is the AsyncClient method of
the same name and signature (tests/client check that they stay in step).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from sliceboard.client.async_client import DEFAULT_URL, AsyncClient, ExportResult, Named
from sliceboard.client.jobs import AsyncJobHandle
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
from sliceboard.client.retry import RetryPolicy

T = TypeVar("T")
JSON = dict[str, Any]


class _Loop:
    """An event loop in a daemon thread; ``run`` blocks on one coroutine there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="sliceboard-client", daemon=True
        )
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # Ctrl-C: stop the call instead of leaving it running
            raise

    def iterate(self, iterator: AsyncIterator[T]) -> Iterator[T]:
        try:
            while True:
                try:
                    yield self.run(anext(iterator))  # type: ignore[arg-type]
                except StopAsyncIteration:
                    return
        finally:
            closer = getattr(iterator, "aclose", None)
            if closer is not None and not self.loop.is_closed():
                self.run(closer())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class JobHandle:
    """A job the client started; ``wait()`` blocks until it ends (see AsyncJobHandle.wait)."""

    def __init__(self, loop: _Loop, handle: AsyncJobHandle) -> None:
        self._loop = loop
        self._handle = handle

    @property
    def id(self) -> str:
        return self._handle.id

    @property
    def job(self) -> Job:
        return self._handle.job

    @property
    def result(self) -> Any:
        return self._handle.result

    def refresh(self) -> Job:
        return self._loop.run(self._handle.refresh())

    def cancel(self) -> Job:
        return self._loop.run(self._handle.cancel())

    def wait(
        self,
        timeout: float | None = None,
        *,
        progress: bool | None = None,
        raise_on_failure: bool = True,
    ) -> Job:
        return self._loop.run(
            self._handle.wait(timeout, progress=progress, raise_on_failure=raise_on_failure)
        )


class Client:
    """A blocking client of one server; see :class:`AsyncClient` for the arguments."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        api_key: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 120.0,
        batch_rows: int | None = None,
        batch_bytes: int | None = None,
        page_size: int = 100,
        subscriptions: bool = True,
        poll_seconds: float = 0.5,
        progress: bool | None = None,
    ) -> None:
        self._loop = _Loop()

        async def build() -> AsyncClient:  # httpx's pool belongs to the loop that uses it
            return AsyncClient(
                url,
                api_key,
                retry=retry,
                timeout=timeout,
                batch_rows=batch_rows,
                batch_bytes=batch_bytes,
                page_size=page_size,
                subscriptions=subscriptions,
                poll_seconds=poll_seconds,
                progress=progress,
            )

        try:
            self.aio = self._loop.run(build())
        except BaseException:
            self._loop.close()
            raise

    @classmethod
    def from_env(cls, url: str | None = None, **options: Any) -> Client:
        """``SLICEBOARD_URL`` and ``SLICEBOARD_API_KEY`` unless given."""
        import os

        return cls(
            url or os.environ.get("SLICEBOARD_URL") or DEFAULT_URL,
            options.pop("api_key", None) or os.environ.get("SLICEBOARD_API_KEY") or None,
            **options,
        )

    def close(self) -> None:
        if self._loop.loop.is_closed():
            return
        try:
            self._loop.run(self.aio.aclose())
        finally:
            self._loop.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._loop.run(coroutine)

    def _handle(self, coroutine: Coroutine[Any, Any, AsyncJobHandle]) -> JobHandle:
        return JobHandle(self._loop, self._run(coroutine))

    # --- what the server has ------------------------------------------------------------------

    def server_fields(self, type_name: str) -> frozenset[str]:
        return self._run(self.aio.server_fields(type_name))

    # --- catalog ------------------------------------------------------------------------------

    def create_dataset(self, name: str, metadata: Any = None) -> Dataset:
        return self._run(self.aio.create_dataset(name, metadata))

    def delete_dataset(self, dataset: Named) -> str:
        return self._run(self.aio.delete_dataset(dataset))

    def dataset(self, id: Named | None = None, *, name: str | None = None) -> Dataset | None:
        return self._run(self.aio.dataset(id, name=name))

    def datasets(self) -> Iterator[Dataset]:
        return self._loop.iterate(self.aio.datasets())

    def ensure_dataset(self, name: str, metadata: Any = None) -> Dataset:
        return self._run(self.aio.ensure_dataset(name, metadata))

    def create_model(self, name: str, reference_id: str, metadata: Any = None) -> Model:
        return self._run(self.aio.create_model(name, reference_id, metadata))

    def model(self, id: Named | None = None, *, reference_id: str | None = None) -> Model | None:
        return self._run(self.aio.model(id, reference_id=reference_id))

    def models(self) -> Iterator[Model]:
        return self._loop.iterate(self.aio.models())

    def ensure_model(self, reference_id: str, name: str | None = None) -> Model:
        return self._run(self.aio.ensure_model(reference_id, name))

    def create_model_run(self, model: Named, dataset: Named, name: str) -> ModelRun:
        return self._run(self.aio.create_model_run(model, dataset, name))

    def model_run(self, id: Named) -> ModelRun | None:
        return self._run(self.aio.model_run(id))

    def model_runs(self, dataset: Named) -> Iterator[ModelRun]:
        return self._loop.iterate(self.aio.model_runs(dataset))

    def find_model_run(self, model: Named, dataset: Named, name: str) -> ModelRun | None:
        return self._run(self.aio.find_model_run(model, dataset, name))

    def ensure_model_run(self, model: Named, dataset: Named, name: str) -> ModelRun:
        return self._run(self.aio.ensure_model_run(model, dataset, name))

    def create_slice(
        self,
        dataset: Named,
        name: str,
        *,
        filter: JSON | None = None,
        reference_ids: Sequence[str] | None = None,
    ) -> Slice:
        return self._run(
            self.aio.create_slice(dataset, name, filter=filter, reference_ids=reference_ids)
        )

    def slices(self, dataset: Named) -> Iterator[Slice]:
        return self._loop.iterate(self.aio.slices(dataset))

    # --- API keys ------------------------------------------------------------------------------

    def create_api_key(
        self,
        name: str,
        scope: str = "READ",
        *,
        dataset_ids: Sequence[Named] | None = None,
        expires_at: datetime | None = None,
    ) -> CreatedApiKey:
        return self._run(
            self.aio.create_api_key(name, scope, dataset_ids=dataset_ids, expires_at=expires_at)
        )

    def revoke_api_key(self, key: str | ApiKey) -> ApiKey:
        return self._run(self.aio.revoke_api_key(key))

    # --- uploads ------------------------------------------------------------------------------

    def upsert_items(
        self,
        dataset: Named,
        items: Iterable[Mapping[str, Any]],
        *,
        update: bool = False,
        progress: bool | None = None,
    ) -> UpsertResult:
        return self._run(self.aio.upsert_items(dataset, items, update=update, progress=progress))

    def upsert_annotations(
        self,
        dataset: Named,
        annotations: Iterable[Mapping[str, Any]],
        *,
        update: bool = False,
        progress: bool | None = None,
    ) -> UpsertResult:
        return self._run(
            self.aio.upsert_annotations(dataset, annotations, update=update, progress=progress)
        )

    def upsert_predictions(
        self,
        run: Named,
        predictions: Iterable[Mapping[str, Any]],
        *,
        update: bool = False,
        progress: bool | None = None,
    ) -> UpsertResult:
        return self._run(
            self.aio.upsert_predictions(run, predictions, update=update, progress=progress)
        )

    def upload_custom_metrics(
        self, run: Named, metrics: Iterable[Mapping[str, Any]], *, progress: bool | None = None
    ) -> UpsertResult:
        return self._run(self.aio.upload_custom_metrics(run, metrics, progress=progress))

    def upsert_labels(
        self,
        run: Named,
        annotation_ids: Sequence[str] | None = None,
        *,
        all: bool | None = None,
    ) -> ModelRun:
        return self._run(self.aio.upsert_labels(run, annotation_ids, all=all))

    # --- evaluation and jobs ------------------------------------------------------------------

    def evaluate(
        self,
        run: Named,
        *,
        matching: str | None = None,
        class_agnostic: bool | None = None,
        allowed_label_matches: Sequence[tuple[str, str]] | None = None,
        iou_thresholds: Sequence[float] | None = None,
        max_detections: int | None = None,
        empty_classes: str | None = None,
    ) -> JobHandle:
        return self._handle(
            self.aio.evaluate(
                run,
                matching=matching,
                class_agnostic=class_agnostic,
                allowed_label_matches=allowed_label_matches,
                iou_thresholds=iou_thresholds,
                max_detections=max_detections,
                empty_classes=empty_classes,
            )
        )

    def job(self, id: Named) -> Job | None:
        return self._run(self.aio.job(id))

    def job_handle(self, id: Named) -> JobHandle:
        return self._handle(self.aio.job_handle(id))

    def cancel_job(self, job: Named) -> Job:
        return self._run(self.aio.cancel_job(job))

    def run_jobs(self, run: Named) -> list[Job]:
        return self._run(self.aio.run_jobs(run))

    def evaluation(self, run: Named) -> Evaluation | None:
        return self._run(self.aio.evaluation(run))

    # --- reading ------------------------------------------------------------------------------

    def items(self, dataset: Named, *, filter: JSON | None = None) -> Iterator[Item]:
        return self._loop.iterate(self.aio.items(dataset, filter=filter))

    def annotations(
        self, dataset: Named, *, labels: Sequence[str] | None = None
    ) -> Iterator[Annotation]:
        return self._loop.iterate(self.aio.annotations(dataset, labels=labels))

    def predictions(
        self,
        run: Named,
        *,
        filter: JSON | None = None,
        order_by: str | None = None,
        iou_threshold: float = 0.5,
    ) -> Iterator[Prediction]:
        return self._loop.iterate(
            self.aio.predictions(run, filter=filter, order_by=order_by, iou_threshold=iou_threshold)
        )

    def false_negatives(
        self,
        run: Named,
        *,
        filter: JSON | None = None,
        iou_threshold: float = 0.5,
        labels: Sequence[str] | None = None,
    ) -> Iterator[Annotation]:
        return self._loop.iterate(
            self.aio.false_negatives(run, filter=filter, iou_threshold=iou_threshold, labels=labels)
        )

    def metrics(
        self,
        run: Named,
        *,
        filter: JSON | None = None,
        slice: Named | None = None,
        iou_threshold: float = 0.5,
        confidence_threshold: float = 0.0,
        labels: Sequence[str] | None = None,
    ) -> MetricsReport:
        return self._run(
            self.aio.metrics(
                run,
                filter=filter,
                slice=slice,
                iou_threshold=iou_threshold,
                confidence_threshold=confidence_threshold,
                labels=labels,
            )
        )

    def precision_recall_curve(
        self,
        run: Named,
        label: str | None = None,
        *,
        filter: JSON | None = None,
        slice: Named | None = None,
        iou_threshold: float = 0.5,
    ) -> list[PrPoint]:
        return self._run(
            self.aio.precision_recall_curve(
                run, label, filter=filter, slice=slice, iou_threshold=iou_threshold
            )
        )

    def custom_metrics(
        self,
        run: Named,
        *,
        filter: JSON | None = None,
        slice: Named | None = None,
        names: Sequence[str] | None = None,
    ) -> list[JSON]:
        return self._run(self.aio.custom_metrics(run, filter=filter, slice=slice, names=names))

    # --- files --------------------------------------------------------------------------------

    def import_file(
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
    ) -> JobHandle:
        return self._handle(
            self.aio.import_file(
                format,
                path,
                dataset=dataset,
                run=run,
                update=update,
                images_root=images_root,
                wait=wait,
                timeout=timeout,
                progress=progress,
            )
        )

    def import_coco(
        self,
        path: str | Path,
        dataset: Named,
        *,
        images_root: str | None = None,
        update: bool = True,
        wait: bool = True,
        timeout: float | None = None,
        progress: bool | None = None,
    ) -> JobHandle:
        return self._handle(
            self.aio.import_coco(
                path,
                dataset,
                images_root=images_root,
                update=update,
                wait=wait,
                timeout=timeout,
                progress=progress,
            )
        )

    def import_coco_results(
        self,
        path: str | Path,
        run: Named,
        *,
        update: bool = True,
        wait: bool = True,
        timeout: float | None = None,
        progress: bool | None = None,
    ) -> JobHandle:
        return self._handle(
            self.aio.import_coco_results(
                path, run, update=update, wait=wait, timeout=timeout, progress=progress
            )
        )

    def import_yolo(
        self,
        path: str | Path,
        dataset: Named,
        *,
        run: Named | None = None,
        update: bool = True,
        wait: bool = True,
        timeout: float | None = None,
        progress: bool | None = None,
    ) -> JobHandle:
        return self._handle(
            self.aio.import_yolo(
                path,
                dataset,
                run=run,
                update=update,
                wait=wait,
                timeout=timeout,
                progress=progress,
            )
        )

    def import_ndjson(
        self,
        path: str | Path,
        dataset: Named,
        *,
        run: Named | None = None,
        update: bool = True,
        wait: bool = True,
        timeout: float | None = None,
        progress: bool | None = None,
    ) -> JobHandle:
        return self._handle(
            self.aio.import_ndjson(
                path,
                dataset,
                run=run,
                update=update,
                wait=wait,
                timeout=timeout,
                progress=progress,
            )
        )

    def export(
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
        return self._run(
            self.aio.export(
                format,
                out,
                dataset=dataset,
                run=run,
                filter=filter,
                slice=slice,
                iou_threshold=iou_threshold,
                confidence_threshold=confidence_threshold,
                timeout=timeout,
                progress=progress,
            )
        )
