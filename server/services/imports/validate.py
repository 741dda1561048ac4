"""Validation of a chunk without writing it: the first pass of an import on SQLite.

SQLite has one writer, and an import is one transaction: holding the write lock while a large
file is read would stall every other write, ``cancelJob`` included. So SQLite reads the file
twice: this pass validates every row (the upload validators, and each referenceId against the
dataset's items and the file's own) with no lock held, reporting progress and honouring a
cancellation; only a clean file is then written, in one transaction, by the importer, from the
validated rows this pass spilled to disk (so no row is parsed or validated twice).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.services.imports.chunks import Chunk
from sliceboard.services.imports.importer import Importer, describe
from sliceboard.services.validation import (
    Issues,
    validate_annotations,
    validate_items,
    validate_predictions,
)
from sliceboard.storage import upload_writes as upload_sql

_VALIDATORS = {
    "items": validate_items,
    "annotations": validate_annotations,
    "predictions": validate_predictions,
}


@dataclass
class Validator:
    """Checks chunks as :class:`Importer` would write them, reporting into ``importer.issues``."""

    session: AsyncSession
    dataset_id: int
    importer: Importer
    file_refs: set[str] = field(default_factory=set)

    async def check(self, chunk: Chunk) -> Chunk | None:
        """The chunk's validated rows (what the upload service writes), or None after issues."""
        importer = self.importer
        before = len(importer.issues)
        if chunk.kind == "metrics":
            return chunk  # validated by the custom-metric service when written
        dropped = set() if importer.unique_keys else set(importer.duplicates(chunk))
        issues = Issues()
        rows = [row for i, row in enumerate(chunk.rows) if i not in dropped]
        where = [w for i, w in enumerate(chunk.where) if i not in dropped]
        normalised = _VALIDATORS[chunk.kind](rows, issues)
        if chunk.kind == "items":
            self.file_refs.update(
                r["reference_id"] for r in rows if isinstance(r.get("reference_id"), str)
            )
        else:
            wanted = {
                ref
                for row in rows
                if isinstance(ref := row.get("reference_id"), str) and ref not in self.file_refs
            }
            found = await upload_sql.select_item_ids(
                session=self.session, dataset_id=self.dataset_id, reference_ids=list(wanted)
            )
            for i, row in enumerate(rows):
                ref = row.get("reference_id")
                if isinstance(ref, str) and ref not in self.file_refs and ref not in found:
                    issues.add(
                        f"{chunk.kind}[{i}].referenceId",
                        f"no item with referenceId {ref!r} in this dataset",
                    )
        for issue in issues.items:
            importer.problem(describe(issue, where))
        if issues or len(importer.issues) > before:
            return None
        return Chunk(chunk.kind, normalised, where)
