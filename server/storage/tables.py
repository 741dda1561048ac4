"""The database tables (SQLModel), the one place the schema is described.

Migrations in ``migrations/versions`` create exactly these; ``tests/storage/test_migrations``
checks that the two agree. Keys a user knows (referenceId, annotationId, names) carry unique
constraints, so upserts can rely on the database to stay idempotent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
IdType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _pk() -> Any:
    return Field(default=None, sa_column=sa.Column(IdType, primary_key=True, autoincrement=True))


def _fk(
    target: str, *, nullable: bool = False, index: bool = True, ondelete: str = "CASCADE"
) -> Any:
    return Field(
        default=None,
        sa_column=sa.Column(
            IdType, sa.ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index
        ),
    )


def _json(*, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=sa.Column(JSONType, nullable=nullable))


def _time(*, nullable: bool = False) -> Any:
    return Field(
        default_factory=utcnow if not nullable else None,
        sa_column=sa.Column(sa.DateTime(timezone=True), nullable=nullable),
    )


class Dataset(SQLModel, table=True):
    __tablename__ = "dataset"
    id: int | None = _pk()
    name: str = Field(sa_column=sa.Column(sa.String(255), nullable=False, unique=True))
    metadata_: dict[str, Any] | None = Field(
        default=None, sa_column=sa.Column("metadata", JSONType, nullable=True)
    )
    # Bumped on every ground-truth change, so an evaluation can tell it is stale.
    annotations_version: int = Field(
        default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0")
    )
    # Bumped on every item insert or update (migration 0003): keys cached filter resolutions.
    items_version: int = Field(
        default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0")
    )
    # The mask index that means "unlabelled" in semantic masks (migration 0007): excluded
    # from every pixel metric, and the only undeclared index a mask may hold.
    segmentation_ignore_index: int = Field(
        default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0")
    )
    created_at: datetime = _time()


class LabelMapBlob(SQLModel, table=True):
    """A semantic mask's pixels, stored once (``sliceboard.evaluation.label_maps``: run lengths,
    zlib'd) and named by the digest of its runs: annotations and predictions refer to it by
    that digest, so the same mask uploaded again adds nothing."""

    __tablename__ = "label_map"
    digest: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    height: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    width: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    runs: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    data: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    created_at: datetime = _time()


class Item(SQLModel, table=True):
    __tablename__ = "item"
    __table_args__ = (sa.UniqueConstraint("dataset_id", "reference_id", name="uq_item_ref"),)
    id: int | None = _pk()
    dataset_id: int = _fk("dataset.id", index=False)
    reference_id: str = Field(sa_column=sa.Column(sa.String(512), nullable=False))
    url: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    width: int | None = Field(default=None, sa_column=sa.Column(sa.Integer, nullable=True))
    height: int | None = Field(default=None, sa_column=sa.Column(sa.Integer, nullable=True))
    metadata_: dict[str, Any] | None = Field(
        default=None, sa_column=sa.Column("metadata", JSONType, nullable=True)
    )
    created_at: datetime = _time()


class Annotation(SQLModel, table=True):
    """Ground truth. ``geometry`` holds the normalised geometry JSON of ``type``."""

    __tablename__ = "annotation"
    __table_args__ = (
        sa.UniqueConstraint("item_id", "annotation_id", name="uq_annotation_key"),
        sa.Index("ix_annotation_dataset_label", "dataset_id", "label"),
    )
    id: int | None = _pk()
    dataset_id: int = _fk("dataset.id", index=False)
    item_id: int = _fk("item.id")
    annotation_id: str = Field(sa_column=sa.Column(sa.String(512), nullable=False))
    label: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    type: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    geometry: dict[str, Any] | None = _json()
    area: float | None = Field(default=None, sa_column=sa.Column(sa.Float, nullable=True))
    iscrowd: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false())
    )
    metadata_: dict[str, Any] | None = Field(
        default=None, sa_column=sa.Column("metadata", JSONType, nullable=True)
    )
    classifications: list[dict[str, str]] | None = _json()
    created_at: datetime = _time()


class Model(SQLModel, table=True):
    __tablename__ = "model"
    id: int | None = _pk()
    name: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    reference_id: str = Field(sa_column=sa.Column(sa.String(255), nullable=False, unique=True))
    metadata_: dict[str, Any] | None = Field(
        default=None, sa_column=sa.Column("metadata", JSONType, nullable=True)
    )
    created_at: datetime = _time()


class ModelRun(SQLModel, table=True):
    """One model's predictions on one dataset, judged against a chosen set of ground truth."""

    __tablename__ = "model_run"
    __table_args__ = (
        sa.UniqueConstraint("model_id", "dataset_id", "name", name="uq_model_run_name"),
    )
    id: int | None = _pk()
    model_id: int = _fk("model.id")
    dataset_id: int = _fk("dataset.id")
    name: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    # True: every annotation of the dataset is ground truth; False: only model_run_label rows.
    labels_all: bool = Field(
        default=True, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.true())
    )
    # Bumped on every prediction or label-set change, so an evaluation can tell it is stale.
    data_version: int = Field(
        default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0")
    )
    # Bumped on every custom-metric upload (migration 0002): keys the custom-metric column cache.
    custom_metrics_version: int = Field(
        default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0")
    )
    # No foreign key: model_run <-> evaluation would be a cycle; evaluations cascade with the run.
    current_evaluation_id: int | None = Field(
        default=None, sa_column=sa.Column(IdType, nullable=True)
    )
    created_at: datetime = _time()


class ModelRunLabel(SQLModel, table=True):
    """The explicit ground-truth set of a run whose ``labels_all`` is False."""

    __tablename__ = "model_run_label"
    model_run_id: int = Field(
        sa_column=sa.Column(
            IdType, sa.ForeignKey("model_run.id", ondelete="CASCADE"), primary_key=True
        )
    )
    annotation_pk: int = Field(
        sa_column=sa.Column(
            IdType, sa.ForeignKey("annotation.id", ondelete="CASCADE"), primary_key=True
        )
    )


class Prediction(SQLModel, table=True):
    """A model's output; row id order is upload order (COCO's tie-break for equal scores)."""

    __tablename__ = "prediction"
    __table_args__ = (
        sa.UniqueConstraint("model_run_id", "item_id", "annotation_id", name="uq_prediction_key"),
        sa.Index("ix_prediction_run_label", "model_run_id", "label"),
        sa.Index("ix_prediction_item", "item_id"),
    )
    id: int | None = _pk()
    model_run_id: int = _fk("model_run.id", index=False)
    item_id: int = _fk("item.id", index=False)
    annotation_id: str = Field(sa_column=sa.Column(sa.String(512), nullable=False))
    label: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    type: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    geometry: dict[str, Any] | None = _json()
    area: float | None = Field(default=None, sa_column=sa.Column(sa.Float, nullable=True))
    confidence: float | None = Field(default=None, sa_column=sa.Column(sa.Float, nullable=True))
    class_pdf: dict[str, float] | None = _json()
    custom_metrics: list[dict[str, Any]] | None = _json()
    metadata_: dict[str, Any] | None = Field(
        default=None, sa_column=sa.Column("metadata", JSONType, nullable=True)
    )
    classifications: list[dict[str, str]] | None = _json()
    created_at: datetime = _time()


class Slice(SQLModel, table=True):
    __tablename__ = "slice"
    __table_args__ = (sa.UniqueConstraint("dataset_id", "name", name="uq_slice_name"),)
    id: int | None = _pk()
    dataset_id: int = _fk("dataset.id", index=False)
    name: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    filter: dict[str, Any] | None = _json()
    reference_ids: list[str] | None = _json()
    created_at: datetime = _time()


class Job(SQLModel, table=True):
    """A unit of background work; the row is the queue (claimed with a lease, so a dead worker's job returns)."""

    __tablename__ = "job"
    __table_args__ = (
        sa.Index("ix_job_claim", "status", "run_after"),
        sa.Index("ix_job_download_token", "download_token", unique=True),
    )
    id: int | None = _pk()
    kind: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    status: str = Field(default="QUEUED", sa_column=sa.Column(sa.String(16), nullable=False))
    payload: dict[str, Any] | None = _json()
    model_run_id: int | None = _fk("model_run.id", nullable=True)
    progress: float = Field(
        default=0.0, sa_column=sa.Column(sa.Float, nullable=False, server_default="0")
    )
    message: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    attempts: int = Field(
        default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0")
    )
    max_attempts: int = Field(
        default=3, sa_column=sa.Column(sa.Integer, nullable=False, server_default="3")
    )
    cancel_requested: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false())
    )
    worker_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(128), nullable=True))
    lease_until: datetime | None = _time(nullable=True)
    heartbeat_at: datetime | None = _time(nullable=True)
    run_after: datetime = _time()
    created_at: datetime = _time()
    started_at: datetime | None = _time(nullable=True)
    finished_at: datetime | None = _time(nullable=True)
    # Bumped on every change a subscriber should see; cheap to poll across processes.
    revision: int = Field(
        default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0")
    )
    # File jobs (migration 0006): rows done of rows total, the outcome (an import's counts, an
    # export's download), the issues that failed an import, and an export's download token.
    rows_done: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    rows_total: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    result: dict[str, Any] | None = _json()
    issues: list[str] | None = _json()
    download_token: str | None = Field(
        default=None, sa_column=sa.Column(sa.String(64), nullable=True)
    )


class Evaluation(SQLModel, table=True):
    """One version of a run's evaluation results; the run points at the visible one."""

    __tablename__ = "evaluation"
    __table_args__ = (sa.UniqueConstraint("model_run_id", "version", name="uq_evaluation_version"),)
    id: int | None = _pk()
    model_run_id: int = _fk("model_run.id", index=False)
    version: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    status: str = Field(default="QUEUED", sa_column=sa.Column(sa.String(16), nullable=False))
    options: dict[str, Any] | None = _json()
    job_id: int | None = _fk("job.id", nullable=True, ondelete="SET NULL")
    run_data_version: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, nullable=True)
    )
    dataset_annotations_version: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, nullable=True)
    )
    # The columnar match table (npz bytes), so every replica can load and cache it.
    snapshot: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary, nullable=True))
    timings: dict[str, Any] | None = _json()
    error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    created_at: datetime = _time()
    completed_at: datetime | None = _time(nullable=True)


class CustomMetric(SQLModel, table=True):
    """A user-uploaded ScalarMetric or ConfusionMatrixMetric (Labelbox's model, DESIGN.md §7).

    Empty strings, not NULLs, mark "no feature"/"no subclass" so the unique key works on
    both databases.
    """

    __tablename__ = "custom_metric"
    __table_args__ = (
        sa.UniqueConstraint(
            "model_run_id",
            "item_id",
            "feature_name",
            "subclass_name",
            "name",
            name="uq_custom_metric_key",
        ),
        sa.Index("ix_custom_metric_run_name", "model_run_id", "name"),
        sa.Index("ix_custom_metric_run_revision", "model_run_id", "revision"),
    )
    id: int | None = _pk()
    model_run_id: int = _fk("model_run.id", index=False)
    item_id: int = _fk("item.id")
    feature_name: str = Field(
        default="", sa_column=sa.Column(sa.String(255), nullable=False, server_default="")
    )
    subclass_name: str = Field(
        default="", sa_column=sa.Column(sa.String(255), nullable=False, server_default="")
    )
    name: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    kind: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))  # SCALAR | CONFUSION
    aggregation: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    value: float | None = Field(default=None, sa_column=sa.Column(sa.Float, nullable=True))
    # [[confidence, value], ...] or [[confidence, tp, fp, tn, fn], ...]
    by_confidence: list[list[float]] | None = _json()
    tp: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    fp: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    tn: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    fn: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    created_at: datetime = _time()
    # The run's custom_metrics_version of the upload that last wrote the row (migration 0008).
    revision: int = Field(
        default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0")
    )


class ApiKey(SQLModel, table=True):
    """An API key. The secret itself is never stored: ``secret_hash`` is its HMAC-SHA-256 under
    the server secret; ``public_id`` (printed inside the key) finds the row without the secret."""

    __tablename__ = "api_key"
    id: int | None = _pk()
    name: str = Field(sa_column=sa.Column(sa.String(255), nullable=False, unique=True))
    public_id: str = Field(sa_column=sa.Column(sa.String(32), nullable=False, unique=True))
    secret_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    scope: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    # True: limited to the datasets in api_key_dataset (none left: it sees nothing).
    dataset_limited: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false())
    )
    created_at: datetime = _time()
    expires_at: datetime | None = _time(nullable=True)
    revoked_at: datetime | None = _time(nullable=True)


class ApiKeyDataset(SQLModel, table=True):
    """A dataset a limited key may use; deleting the dataset deletes the row, so a later
    dataset that reuses the id is not reachable through the key."""

    __tablename__ = "api_key_dataset"
    api_key_id: int = Field(
        sa_column=sa.Column(
            IdType, sa.ForeignKey("api_key.id", ondelete="CASCADE"), primary_key=True
        )
    )
    dataset_id: int = Field(
        sa_column=sa.Column(
            IdType, sa.ForeignKey("dataset.id", ondelete="CASCADE"), primary_key=True, index=True
        )
    )


class ServerSecret(SQLModel, table=True):
    """Secrets the server generates once and every process shares (the key-hashing secret when
    ``SLICEBOARD_KEY_SECRET`` is not set)."""

    __tablename__ = "server_secret"
    name: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    value: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    created_at: datetime = _time()


def core(model: type[SQLModel]) -> sa.Table:
    """The Core table behind a model: typed columns for SQL expressions (``core(Item).c.id``)."""
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, sa.Table)
    return table


class AuditEntry(SQLModel, table=True):
    """One mutation: who (key id and name; both null for an anonymous caller), which root field,
    which dataset, when, and its outcome (``OK`` or the error code). No foreign keys: the log
    outlives the keys and datasets it names (migration 0005)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index("ix_audit_log_dataset", "dataset_id", "id"),
        sa.Index("ix_audit_log_key", "key_id", "id"),
    )
    id: int | None = _pk()
    at: datetime = _time()
    key_id: int | None = Field(default=None, sa_column=sa.Column(IdType, nullable=True))
    key_name: str | None = Field(default=None, sa_column=sa.Column(sa.String(255), nullable=True))
    operation: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    dataset_id: int | None = Field(default=None, sa_column=sa.Column(IdType, nullable=True))
    outcome: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    message: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
