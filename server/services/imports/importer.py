"""Validate and write a file's chunks through the upload services, inside the caller's one
transaction, so an import is all-or-nothing like a batch.

Each chunk goes to ``upsert_items`` / ``upsert_annotations`` / ``upsert_predictions``: the same
validation (every issue, with its path) and the same idempotent upsert with new / updated /
ignored counts. An issue is reported against the file (``line 12: box.width must be above 0``)
and the importer goes on reading (nothing more is written; the caller rolls back) until it has
``max_issues``. A key the file gives twice in different chunks is a duplicate too: the file's
keys are remembered (items by referenceId; objects by a 64-bit hash of (referenceId,
annotationId), 8 bytes of state a row, so two keys share a hash with probability ~n^2/2^65).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.errors import InvalidInput, Issue, NotFound
from sliceboard.services import custom_metrics, uploads
from sliceboard.services.imports.chunks import KINDS, Chunk, Kind


@dataclass
class Counts:
    new: int = 0
    updated: int = 0
    ignored: int = 0

    def add(self, counts: uploads.UpsertCounts) -> None:
        self.new += counts.new
        self.updated += counts.updated
        self.ignored += counts.ignored

    def as_dict(self) -> dict[str, int]:
        return {"new": self.new, "updated": self.updated, "ignored": self.ignored}


def describe(issue: Issue, where: list[str]) -> str:
    """``annotations[17].box.width`` of a chunk -> ``<where[17]>: box.width <message>``."""
    kind, _, rest = issue.path.partition("[")
    index, _, field_path = rest.partition("]")
    if kind in KINDS and index.isdigit() and int(index) < len(where):
        field_name = field_path.lstrip(".")
        return f"{where[int(index)]}: {field_name + ' ' if field_name else ''}{issue.message}"
    return f"{issue.path}: {issue.message}"


@dataclass
class Importer:
    session: AsyncSession
    dataset_id: str
    model_run_id: str | None
    update: bool
    max_issues: int
    #: The reader makes every key unique itself (COCO results): no need to remember them.
    unique_keys: bool = False
    counts: dict[Kind, Counts] = field(default_factory=lambda: {k: Counts() for k in KINDS})
    issues: list[str] = field(default_factory=list)
    labels: set[str] = field(default_factory=set)
    _refs: set[str] = field(default_factory=set)
    _keys: dict[Kind, set[int]] = field(default_factory=lambda: {k: set() for k in KINDS})

    @property
    def full(self) -> bool:
        return len(self.issues) >= self.max_issues

    def problem(self, text: str) -> None:
        if not self.full:
            self.issues.append(text)

    def duplicates(self, chunk: Chunk) -> list[int]:
        """Rows whose key an earlier chunk of the file already gave (then dropped)."""
        dropped: list[int] = []
        if chunk.kind == "items":
            for i, row in enumerate(chunk.rows):
                ref = row.get("reference_id")
                if isinstance(ref, str) and ref in self._refs:
                    dropped.append(i)
                    self.problem(f"{chunk.where[i]}: referenceId {ref!r} given twice in the file")
            for row in chunk.rows:
                if isinstance(row.get("reference_id"), str):
                    self._refs.add(row["reference_id"])
            return dropped
        keys = self._keys[chunk.kind]
        hashes: list[int | None] = []
        for i, row in enumerate(chunk.rows):
            ref, key = row.get("reference_id"), row.get("annotation_id")
            if isinstance(ref, str) and isinstance(key, str):
                hashed = hash((ref, key))
                if hashed in keys:
                    dropped.append(i)
                    self.problem(
                        f"{chunk.where[i]}: (referenceId {ref!r}, annotationId {key!r}) "
                        "given twice in the file"
                    )
                hashes.append(hashed)
            else:
                hashes.append(None)
        keys.update(h for h in hashes if h is not None)
        return dropped

    async def write(self, chunk: Chunk, *, validated: bool = False) -> None:
        """Validate and write one chunk (``validated``: rows of a first pass, written as they are)."""
        dropped = [] if validated or self.unique_keys else self.duplicates(chunk)
        if dropped:
            gone = set(dropped)
            chunk = Chunk(
                chunk.kind,
                [r for i, r in enumerate(chunk.rows) if i not in gone],
                [w for i, w in enumerate(chunk.where) if i not in gone],
            )
        if not chunk.rows:
            return
        for row in chunk.rows:
            label = row.get("label")
            if isinstance(label, str):
                self.labels.add(label)
        try:
            counts = await self._upsert(chunk, validated)
        except InvalidInput as exc:
            for issue in exc.issues:
                self.problem(describe(issue, chunk.where))
            return
        self.counts[chunk.kind].add(counts)

    async def _upsert(self, chunk: Chunk, validated: bool) -> uploads.UpsertCounts:
        rows: list[Any] = chunk.rows
        size = len(rows)
        if chunk.kind == "items":
            return await uploads.upsert_items(
                self.session,
                dataset_id=self.dataset_id,
                items=rows,
                update=self.update,
                max_rows=size,
                validated=validated,
            )
        if chunk.kind == "annotations":
            return await uploads.upsert_annotations(
                self.session,
                dataset_id=self.dataset_id,
                annotations=rows,
                update=self.update,
                max_rows=size,
                validated=validated,
            )
        if self.model_run_id is None:
            raise NotFound("ModelRun", None, "modelRunId")
        if chunk.kind == "metrics":
            # Custom metrics validate themselves on write (also on SQLite's second pass).
            written = await custom_metrics.upload_custom_metrics(
                self.session, model_run_id=self.model_run_id, metrics=rows, max_rows=size
            )
            return uploads.UpsertCounts(written.new, written.updated, written.ignored)
        return await uploads.upsert_predictions(
            self.session,
            model_run_id=self.model_run_id,
            predictions=rows,
            update=self.update,
            max_rows=size,
            validated=validated,
        )

    def result(self) -> dict[str, Any]:
        names = {"metrics": "customMetrics"}
        return {
            **{names.get(kind, kind): counts.as_dict() for kind, counts in self.counts.items()},
            "labels": len(self.labels),
        }
