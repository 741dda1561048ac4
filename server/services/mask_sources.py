"""Reading a semantic mask's bytes from where the upload says they are, within the limits.

* ``mask``: the file part of the multipart request (the GraphQL layer hands over its bytes);
* ``maskUrl`` ``http(s)://``: fetched by the server, at most ``SLICEBOARD_MAX_MASK_BYTES``
  within ``SLICEBOARD_MASK_FETCH_TIMEOUT_SECONDS`` (the whole exchange, redirects included);
* ``maskUrl`` ``file://``: only a file under ``SLICEBOARD_MEDIA_ROOT`` (after resolving links
  and ``..``); without that setting no file is read.

Each failure is a ``MaskSourceError`` whose message is for the user.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from sliceboard.input_limits import InputLimits

MAX_REDIRECTS = 3


class MaskSourceError(ValueError):
    """The mask could not be read; the message says why."""


async def read_mask_source(source: object, limits: InputLimits) -> bytes:
    if isinstance(source, bytes):
        if len(source) > limits.mask_bytes:
            raise MaskSourceError(_too_large(limits))
        return source
    assert isinstance(source, str)
    scheme = urlsplit(source).scheme.lower()
    if scheme in ("http", "https"):
        return await _fetch(source, limits)
    if scheme == "file":
        return await asyncio.to_thread(_read_file, source, limits)
    raise MaskSourceError(
        "maskUrl must be an http(s):// URL or a file:// URL under the media root "
        f"(got scheme {scheme!r})"
        if scheme
        else "maskUrl must be an absolute URL"
    )


def _too_large(limits: InputLimits) -> str:
    """Without a size: a capped read sees only one byte past the limit."""
    return f"the mask is larger than {limits.mask_bytes} bytes (SLICEBOARD_MAX_MASK_BYTES)"


async def _fetch(url: str, limits: InputLimits) -> bytes:
    seconds = limits.mask_fetch_seconds
    try:
        async with asyncio.timeout(seconds):
            async with (
                httpx.AsyncClient(
                    timeout=seconds, follow_redirects=True, max_redirects=MAX_REDIRECTS
                ) as client,
                client.stream("GET", url) as response,
            ):
                if response.status_code != 200:
                    raise MaskSourceError(f"fetching maskUrl answered HTTP {response.status_code}")
                declared = response.headers.get("content-length")
                if (
                    declared is not None
                    and declared.isdigit()
                    and int(declared) > limits.mask_bytes
                ):
                    raise MaskSourceError(_too_large(limits))
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > limits.mask_bytes:
                        raise MaskSourceError(_too_large(limits))
                return bytes(body)
    except TimeoutError:
        raise MaskSourceError(
            f"fetching maskUrl took longer than {seconds:g} s "
            "(SLICEBOARD_MASK_FETCH_TIMEOUT_SECONDS)"
        ) from None
    except httpx.HTTPError as error:
        reason = str(error) or type(error).__name__
        raise MaskSourceError(f"could not fetch maskUrl: {reason}") from None


def _read_file(url: str, limits: InputLimits) -> bytes:
    if limits.media_root is None:
        raise MaskSourceError("file:// mask URLs are disabled (no SLICEBOARD_MEDIA_ROOT is set)")
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise MaskSourceError(
            "a file:// mask URL names no host (file:///path or file://localhost/path)"
        )
    root = Path(limits.media_root).resolve()
    path = Path(unquote(parts.path)).resolve()
    if not path.is_relative_to(root):
        raise MaskSourceError("the file:// mask URL is outside the media root")
    if not path.is_file():
        raise MaskSourceError("no such file under the media root")
    size = path.stat().st_size
    if size > limits.mask_bytes:
        raise MaskSourceError(_too_large(limits))
    with path.open("rb") as handle:
        data = handle.read(limits.mask_bytes + 1)
    if len(data) > limits.mask_bytes:
        raise MaskSourceError(_too_large(limits))
    return data
