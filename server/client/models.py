"""What the client returns: small frozen dataclasses built from GraphQL answers.

Field names are Python's (``reference_id``); values are as the server sent them (geometry and
metadata stay JSON). ``raw`` keeps the whole answer for fields added later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

JSON = dict[str, Any]
FINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})

#: pycocotools' ``stats`` order of the 12 COCO numbers.
COCO_FIELDS = [
    "ap",
    "ap50",
    "ap75",
    "ap_small",
    "ap_medium",
    "ap_large",
    "ar1",
    "ar10",
    "ar100",
    "ar_small",
    "ar_medium",
    "ar_large",
]


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class Dataset:
    id: str
    name: str
    metadata: Any = None
    created_at: datetime | None = None

    @classmethod
    def of(cls, raw: JSON) -> Dataset:
        return cls(raw["id"], raw["name"], raw.get("metadata"), _time(raw.get("createdAt")))


@dataclass(frozen=True)
class Model:
    id: str
    name: str
    reference_id: str
    metadata: Any = None

    @classmethod
    def of(cls, raw: JSON) -> Model:
        return cls(raw["id"], raw["name"], raw["referenceId"], raw.get("metadata"))


@dataclass(frozen=True)
class ModelRun:
    id: str
    name: str
    model_id: str
    model_reference_id: str
    dataset_id: str

    @classmethod
    def of(cls, raw: JSON) -> ModelRun:
        return cls(
            raw["id"],
            raw["name"],
            raw["model"]["id"],
            raw["model"]["referenceId"],
            raw["dataset"]["id"],
        )


@dataclass(frozen=True)
class Slice:
    id: str
    name: str
    dataset_id: str
    filter: Any = None
    reference_ids: list[str] | None = None

    @classmethod
    def of(cls, raw: JSON) -> Slice:
        return cls(
            raw["id"], raw["name"], raw["dataset"]["id"], raw.get("filter"), raw.get("referenceIds")
        )


@dataclass(frozen=True)
class Item:
    id: str
    reference_id: str
    url: str | None
    width: int | None
    height: int | None
    metadata: Any

    @classmethod
    def of(cls, raw: JSON) -> Item:
        return cls(
            raw["id"],
            raw["referenceId"],
            raw.get("url"),
            raw.get("width"),
            raw.get("height"),
            raw.get("metadata"),
        )


@dataclass(frozen=True)
class Annotation:
    id: str
    reference_id: str
    annotation_id: str
    label: str
    type: str
    geometry: JSON | None
    area: float | None
    iscrowd: bool
    metadata: Any

    @classmethod
    def of(cls, raw: JSON) -> Annotation:
        return cls(
            raw["id"],
            raw["item"]["referenceId"],
            raw["annotationId"],
            raw["label"],
            raw["type"],
            raw.get("geometry"),
            raw.get("area"),
            bool(raw.get("iscrowd", False)),
            raw.get("metadata"),
        )


@dataclass(frozen=True)
class Prediction:
    id: str
    reference_id: str
    annotation_id: str
    label: str
    type: str
    geometry: JSON | None
    area: float | None
    confidence: float | None
    metadata: Any
    iou: float | None
    matched_annotation_id: str | None

    @classmethod
    def of(cls, raw: JSON) -> Prediction:
        matched = raw.get("matchedAnnotation")
        return cls(
            raw["id"],
            raw["item"]["referenceId"],
            raw["annotationId"],
            raw["label"],
            raw["type"],
            raw.get("geometry"),
            raw.get("area"),
            raw.get("confidence"),
            raw.get("metadata"),
            raw.get("iou"),
            matched["annotationId"] if matched else None,
        )


@dataclass(frozen=True)
class UpsertResult:
    """Rows created, replaced, or kept as they were (summed over the batches of one call)."""

    new: int = 0
    updated: int = 0
    ignored: int = 0

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(
            self.new + other.new, self.updated + other.updated, self.ignored + other.ignored
        )

    @classmethod
    def of(cls, raw: JSON) -> UpsertResult:
        return cls(raw["new"], raw["updated"], raw["ignored"])


@dataclass(frozen=True)
class Job:
    """A job as the server last reported it. ``rows_done``, ``rows_total``, ``result`` and
    ``issues`` come from servers that have file imports and exports."""

    id: str
    kind: str
    status: str
    progress: float
    message: str | None = None
    error: str | None = None
    attempts: int = 0
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    rows_done: int | None = None
    rows_total: int | None = None
    result: Any = None
    issues: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.status in FINAL_STATUSES

    @classmethod
    def of(cls, raw: JSON) -> Job:
        return cls(
            id=raw["id"],
            kind=raw["kind"],
            status=raw["status"],
            progress=raw["progress"],
            message=raw.get("message"),
            error=raw.get("error"),
            attempts=raw.get("attempts", 0),
            created_at=_time(raw.get("createdAt")),
            started_at=_time(raw.get("startedAt")),
            finished_at=_time(raw.get("finishedAt")),
            rows_done=raw.get("rowsDone"),
            rows_total=raw.get("rowsTotal"),
            result=raw.get("result"),
            issues=list(raw.get("issues") or []),
        )


@dataclass(frozen=True)
class Evaluation:
    id: str
    version: int
    status: str
    options: Any
    is_stale: bool
    created_at: datetime | None
    completed_at: datetime | None
    timings: Any
    error: str | None

    @classmethod
    def of(cls, raw: JSON) -> Evaluation:
        return cls(
            raw["id"],
            raw["version"],
            raw["status"],
            raw.get("options"),
            raw["isStale"],
            _time(raw.get("createdAt")),
            _time(raw.get("completedAt")),
            raw.get("timings"),
            raw.get("error"),
        )


@dataclass(frozen=True)
class ApiKey:
    """An API key as the server lists it (never its secret)."""

    id: str
    name: str
    scope: str
    prefix: str
    dataset_ids: list[str] | None
    created_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, raw: JSON) -> ApiKey:
        return cls(
            raw["id"],
            raw["name"],
            raw["scope"],
            raw["prefix"],
            raw.get("datasetIds"),
            _time(raw.get("createdAt")),
            _time(raw.get("expiresAt")),
            _time(raw.get("revokedAt")),
        )


@dataclass(frozen=True)
class CreatedApiKey:
    """A new key: ``secret`` is shown in this answer only."""

    secret: str
    api_key: ApiKey


@dataclass(frozen=True)
class CocoSummary:
    ap: float
    ap50: float
    ap75: float
    ap_small: float
    ap_medium: float
    ap_large: float
    ar1: float
    ar10: float
    ar100: float
    ar_small: float
    ar_medium: float
    ar_large: float

    @property
    def stats(self) -> list[float]:
        """The 12 numbers in pycocotools' ``COCOeval.stats`` order."""
        return [getattr(self, name) for name in COCO_FIELDS]

    @classmethod
    def of(cls, raw: JSON) -> CocoSummary:
        return cls(
            raw["ap"],
            raw["ap50"],
            raw["ap75"],
            raw["apSmall"],
            raw["apMedium"],
            raw["apLarge"],
            raw["ar1"],
            raw["ar10"],
            raw["ar100"],
            raw["arSmall"],
            raw["arMedium"],
            raw["arLarge"],
        )


@dataclass(frozen=True)
class LabelMetrics:
    label: str
    ap: float | None
    ap50: float | None
    ar: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    true_positives: int
    false_positives: int
    false_negatives: int

    @classmethod
    def of(cls, raw: JSON) -> LabelMetrics:
        return cls(
            raw["label"],
            raw.get("ap"),
            raw.get("ap50"),
            raw.get("ar"),
            raw.get("precision"),
            raw.get("recall"),
            raw.get("f1"),
            raw["truePositives"],
            raw["falsePositives"],
            raw["falseNegatives"],
        )


@dataclass(frozen=True)
class PrPoint:
    recall: float
    precision: float
    confidence: float


@dataclass(frozen=True)
class MetricsReport:
    """A run's metrics over a slice at one IoU and confidence threshold."""

    item_count: int
    ground_truth_count: int
    prediction_count: int
    coco: CocoSummary
    per_label: list[LabelMetrics]
    confusion_labels: list[str]
    confusion_counts: list[list[int]]

    @classmethod
    def of(cls, raw: JSON) -> MetricsReport:
        return cls(
            raw["itemCount"],
            raw["groundTruthCount"],
            raw["predictionCount"],
            CocoSummary.of(raw["coco"]),
            [LabelMetrics.of(row) for row in raw["perLabel"]],
            list(raw["confusionMatrix"]["labels"]),
            [list(row) for row in raw["confusionMatrix"]["counts"]],
        )

    def per_label_frame(self) -> Any:
        """Per-label metrics as a pandas DataFrame indexed by label (needs pandas)."""
        from sliceboard.client.frames import to_frame

        return to_frame(self.per_label).set_index("label")

    def confusion_frame(self) -> Any:
        """The confusion matrix as a DataFrame: rows ground truth, columns predictions; the
        last row and column are background."""
        from sliceboard.client.frames import pandas

        labels = [*self.confusion_labels, "(background)"]
        return pandas().DataFrame(self.confusion_counts, index=labels, columns=labels)
