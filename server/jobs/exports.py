"""The ``EXPORT`` job: write the file under an unguessable token, then record its download
(``/files/<token>``), size and format as the job's result. A failed or cancelled attempt
removes its partial file; expired downloads are removed when the next export starts."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sliceboard.errors import LimitExceeded, SliceboardError
from sliceboard.jobs.context import JobContext, JobFailed
from sliceboard.services.exports import downloads, reports
from sliceboard.services.exports import service as exports
from sliceboard.services.imports.files import export_path, new_download_token, remove_file
from sliceboard.storage.tables import utcnow


async def run_export_job(context: JobContext) -> None:
    settings = context.runtime.settings
    payload = context.payload
    await _remove_expired(context)
    token = new_download_token()
    path = export_path(settings.files_dir, token)

    async def progress(done: int, total: int) -> None:
        await context.report_rows(done, total, f"exported {done} of {total} items")
        if await context.cancelled():
            raise asyncio.CancelledError

    try:
        async with context.runtime.reading() as session:
            name = exports.file_name(payload, await exports.subject_name(session, payload))
            with path.open("wb") as file:
                out = exports.LimitedWriter(file, settings.max_export_bytes)
                if payload["format"] in exports.ROW_FORMATS:
                    await exports.write_rows(session, payload, out, progress)
                else:
                    await reports.write_report(
                        session, context.runtime.snapshot_cache, payload, out
                    )
    except (LimitExceeded, SliceboardError) as exc:
        remove_file(path)
        raise JobFailed(exc.message) from exc
    except BaseException:
        remove_file(path)
        raise
    result: dict[str, Any] = {
        "downloadUrl": f"/files/{token}",
        "bytes": out.bytes,
        "format": payload["format"],
        "fileName": name,
    }
    await context.record_outcome(result=result, issues=[], download_token=token)
    await context.report(1.0, f"exported {out.bytes} bytes")


async def _remove_expired(context: JobContext) -> None:
    settings = context.runtime.settings
    before = utcnow() - timedelta(seconds=settings.export_ttl_seconds)
    async with context.runtime.reading() as session:
        tokens = await downloads.expired_tokens(session, finished_before=before)
    for token in tokens:
        remove_file(export_path(settings.files_dir, token))
