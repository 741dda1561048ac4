"""The ``IMPORT`` job: read an uploaded file, validate it whole and write it in one
transaction, reporting rows done of rows total; the job ends with the counts, or FAILED with
the file's issues and nothing written, or CANCELLED with nothing written.

On SQLite the work is split in two (see :mod:`sliceboard.services.imports.validate`): a first
pass reads and validates the file holding no lock (progress and cancellation as usual) and
spills the validated rows to disk, then one transaction writes those (progress is kept until
it commits; a cancellation then waits for the commit, and is too late: the job ends SUCCEEDED).
PostgreSQL validates and writes in one pass.
The uploaded file is removed once the job has an outcome; an attempt interrupted by a shutdown
keeps it for the next attempt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sliceboard.jobs.context import JobContext, JobFailed
from sliceboard.services.imports import service
from sliceboard.services.imports.chunks import Chunk
from sliceboard.services.imports.files import remove_file
from sliceboard.services.imports.importer import Importer
from sliceboard.services.imports.spill import read_chunks, spill_path, write_chunk
from sliceboard.services.imports.validate import Validator

#: The slowest write rate a SQLite write phase is given time for: it holds the job (no
#: heartbeat can be written meanwhile) for the lease plus rows / this many seconds, so a
#: server that dies mid-phase frees the job after that, not never.
SQLITE_SLOWEST_ROWS_PER_SECOND = 200


class _Stop(Exception):
    """Leaves the write transaction so it rolls back (issues found, or cancelled)."""


async def run_import_job(context: JobContext) -> None:
    payload = context.payload
    path = Path(payload["path"])
    if not path.exists():
        raise JobFailed("the uploaded file is no longer there (the import already ended)")
    try:
        await _import(context, payload)
    except asyncio.CancelledError:
        if context.cancel_requested:
            remove_file(path)
        raise
    except BaseException:
        if context.attempt >= context.max_attempts:
            remove_file(path)
        raise
    remove_file(path)


async def _reader(payload: dict[str, Any], dataset_id: int, context: JobContext) -> Any:
    reader = await asyncio.to_thread(service.open_reader, payload)
    async with context.runtime.reading() as session:
        await service.prepare_reader(session, reader, dataset_id=dataset_id)
    return reader


async def _import(context: JobContext, payload: dict[str, Any]) -> None:
    settings = context.runtime.settings
    dataset_id = int(payload["datasetId"])
    is_sqlite = context.runtime.database.dialect.name == "sqlite"
    reader = await _reader(payload, dataset_id, context)
    total = await asyncio.to_thread(reader.total_rows)
    await context.report_rows(0, total, f"reading {total} rows")

    def importer(session: Any) -> Importer:
        return Importer(
            session=session,
            dataset_id=payload["datasetId"],
            model_run_id=payload.get("modelRunId"),
            update=bool(payload.get("update", True)),
            max_issues=settings.max_import_issues,
            unique_keys=bool(getattr(reader, "unique_keys", False)),
        )

    chunks: Iterable[Chunk] = reader.chunks(settings.import_chunk_rows)
    spill = spill_path(Path(payload["path"]))
    if is_sqlite:
        try:
            if not await _validate(context, reader, importer(None), dataset_id, spill, total):
                return
        except BaseException:
            remove_file(spill)
            raise
        chunks = read_chunks(spill)
        lease = settings.job_lease_seconds + total / SQLITE_SLOWEST_ROWS_PER_SECOND
        await context.hold_writes(lease)
    writer: Importer | None = None
    try:
        async with context.runtime.unit_of_work() as session:
            writer = importer(session)
            done = 0
            for chunk in chunks:
                await writer.write(chunk, validated=is_sqlite)
                done += len(chunk)
                await context.report_rows(done, total, f"imported {done} of {total} rows")
                if writer.full or (not is_sqlite and await context.cancelled()):
                    raise _Stop
                await asyncio.sleep(0)  # let the loop breathe between chunks
            if reader.problems.items or writer.issues:
                raise _Stop
            await service.finish_import(session, reader, dataset_id=dataset_id)
            if await context.cancelled():
                raise _Stop
            # What commits now is the whole import: a cancellation from here on is too late
            # (on SQLite, cancelJob waits for this transaction's write lock anyway).
            context.committed = True
    except _Stop:
        pass
    finally:
        remove_file(spill)
        await context.release_writes()
    assert writer is not None
    if context.cancel_requested and not context.committed:
        return
    issues = [*reader.problems.items, *writer.issues]
    if issues:
        await _fail(context, issues[: settings.max_import_issues])
    result = writer.result()
    await context.record_outcome(result=result, issues=[], rows=(total, total))
    summary = ", ".join(
        f"{kind} {c['new']} new, {c['updated']} updated, {c['ignored']} ignored"
        for kind, c in result.items()
        if isinstance(c, dict) and any(c.values())
    )
    await context.report_rows(total, total, f"imported: {summary or 'nothing'}")


async def _validate(
    context: JobContext,
    reader: Any,
    checker_importer: Importer,
    dataset_id: int,
    spill: Path,
    total: int,
) -> bool:
    """SQLite's first pass: validate every row holding no lock, spilling the validated rows;
    False when cancelled. Fails the job (JobFailed) when the file has issues."""
    settings = context.runtime.settings
    async with context.runtime.reading() as session:
        checker = Validator(session=session, dataset_id=dataset_id, importer=checker_importer)
        done = 0
        with spill.open("wb") as file:
            for chunk in reader.chunks(settings.import_chunk_rows):
                checked = await checker.check(chunk)
                if checked is not None and not checker_importer.issues:
                    write_chunk(file, checked)
                done += len(chunk)
                await context.report_rows(done, total, f"validated {done} of {total} rows")
                if checker_importer.full or await context.cancelled():
                    break
    if await context.cancelled():
        remove_file(spill)
        return False
    issues = [*reader.problems.items, *checker_importer.issues]
    if issues:
        remove_file(spill)
        await _fail(context, issues[: settings.max_import_issues])
    return True


async def _fail(context: JobContext, issues: list[str]) -> None:
    await context.record_outcome(result=None, issues=issues)
    raise JobFailed(f"{len(issues)} issue(s) in the file; first: {issues[0]}")
