"""``GET /files/<token>``: a finished export, streamed from ``files_dir``.

The token is the capability: 256 random bits that only the export's job result shows, so the
URL is as private as the job. An unknown, expired or removed download answers 404, and so does
one of a dataset the request's key may not see (as a missing id would).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from sliceboard.principal import principal_of
from sliceboard.runtime import Runtime
from sliceboard.services.exports.downloads import find_download

MEDIA_TYPES = {
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
}


def download_endpoint(runtime: Runtime):  # type: ignore[no-untyped-def]
    async def download(request: Request) -> Response:
        token = str(request.path_params.get("token", ""))
        settings = runtime.settings
        async with runtime.reading() as session:
            found = await find_download(
                session,
                token=token,
                files_dir=settings.files_dir,
                ttl_seconds=settings.export_ttl_seconds,
            )
        principal = principal_of(request)
        if (
            found is not None
            and principal is not None
            and not principal.sees_dataset(found.dataset_id)
        ):
            found = None
        if found is None:
            return JSONResponse(
                {"errors": [{"message": "no such download", "extensions": {"code": "NOT_FOUND"}}]},
                status_code=404,
            )
        extension = found.file_name.rsplit(".", 1)[-1]
        return FileResponse(
            found.path,
            media_type=MEDIA_TYPES.get(extension, "application/octet-stream"),
            filename=found.file_name,
        )

    return download
