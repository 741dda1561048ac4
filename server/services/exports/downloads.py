"""Downloads of finished exports: the job a token names, and the tokens that expired."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.services.imports.files import export_path
from sliceboard.storage import jobs as job_store
from sliceboard.storage.tables import utcnow


@dataclass(frozen=True)
class Download:
    path: Path
    file_name: str
    model_run_id: int | None
    dataset_id: int | None


async def find_download(
    session: AsyncSession, *, token: str, files_dir: str, ttl_seconds: float
) -> Download | None:
    """The file a token names, or None (unknown token, expired, or the file is gone)."""
    if not token or len(token) > 64:
        return None
    job = await job_store.select_job_by_download_token(session=session, token=token)
    if job is None or job.status != job_store.SUCCEEDED or job.finished_at is None:
        return None
    finished = (
        job.finished_at
        if job.finished_at.tzinfo
        else job.finished_at.replace(tzinfo=utcnow().tzinfo)
    )
    if finished + timedelta(seconds=ttl_seconds) < utcnow():
        return None
    path = export_path(files_dir, token)
    if not path.is_file():
        return None
    result = job.result or {}
    payload = job.payload or {}
    dataset_id = payload.get("datasetId")
    return Download(
        path=path,
        file_name=str(result.get("fileName") or f"export-{job.id}"),
        model_run_id=job.model_run_id,
        dataset_id=None if dataset_id is None else int(dataset_id),
    )


async def expired_tokens(session: AsyncSession, *, finished_before: datetime) -> list[str]:
    return await job_store.select_expired_downloads(
        session=session, finished_before=finished_before
    )
