"""Where uploaded import files and finished exports live: ``files_dir`` (a setting), which
every replica that runs jobs or serves downloads must share."""

from __future__ import annotations

import os
import secrets
import uuid
from pathlib import Path
from typing import Protocol

from sliceboard.errors import LimitExceeded

COPY_BLOCK = 1 << 20


class AsyncReadable(Protocol):
    async def read(self, size: int = -1) -> bytes: ...


def imports_dir(files_dir: str) -> Path:
    path = Path(files_dir) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def exports_dir(files_dir: str) -> Path:
    path = Path(files_dir) / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_download_token() -> str:
    """256 random bits, URL-safe: a download URL cannot be guessed."""
    return secrets.token_urlsafe(32)


def export_path(files_dir: str, token: str) -> Path:
    return exports_dir(files_dir) / token


async def save_upload(upload: AsyncReadable, files_dir: str, max_bytes: int) -> Path:
    """Copies an uploaded file to the imports folder a block at a time; past ``max_bytes``
    the partial copy is removed and LimitExceeded raised."""
    path = imports_dir(files_dir) / f"{uuid.uuid4().hex}.upload"
    written = 0
    try:
        with path.open("wb") as out:
            while block := await upload.read(COPY_BLOCK):
                written += len(block)
                if written > max_bytes:
                    raise LimitExceeded(
                        f"the file is larger than the import limit of {max_bytes} bytes "
                        "(SLICEBOARD_MAX_IMPORT_BYTES)"
                    )
                out.write(block)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def remove_file(path: str | os.PathLike[str]) -> None:
    Path(path).unlink(missing_ok=True)
