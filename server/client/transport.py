"""GraphQL over HTTP with retries: JSON posts, multipart file uploads, streamed downloads.

Every request carries ``Authorization: Bearer <key>`` when the client has a key. Answers are
turned into data or into the typed errors of :mod:`sliceboard.client.errors`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any, cast

import httpx

from sliceboard.client.errors import (
    AuthenticationError,
    GraphQLError,
    HTTPError,
    InvalidInputError,
    Issue,
    LimitExceededError,
    NotFoundError,
    PermissionDeniedError,
    RequestTooLargeError,
    ServerUnavailableError,
)
from sliceboard.client.retry import RETRY_STATUSES, RetryPolicy, parse_retry_after

JSON = dict[str, Any]
#: Transport errors after which the request certainly never reached the server.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)


def base_url(url: str) -> str:
    """The server's root: ``http://host:8000/graphql/`` and ``http://host:8000`` name the same."""
    url = url.rstrip("/")
    return url.removesuffix("/graphql")


def encode(value: Any) -> bytes:
    """Compact JSON; NaN and infinities are refused here (the server refuses them too)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


class Transport:
    """One httpx connection pool to one server."""

    def __init__(
        self,
        url: str,
        api_key: str | None,
        retry: RetryPolicy,
        timeout: float,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.base = base_url(url)
        self.graphql_url = f"{self.base}/graphql"
        self.api_key = api_key
        self.retry = retry
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), headers=headers
        )
        self.requests_sent = 0

    async def aclose(self) -> None:
        await self.http.aclose()

    async def execute(
        self, document: str, variables: JSON | None = None, *, idempotent: bool = True
    ) -> JSON:
        """``data`` of one GraphQL document."""
        body = encode({"query": document, "variables": variables or {}})
        return await self.execute_body(body, idempotent=idempotent)

    async def execute_body(self, body: bytes, *, idempotent: bool = True) -> JSON:
        """``data`` of a request body already encoded (the batcher builds bodies once)."""
        response = await self.send(
            lambda: self.http.post(
                self.graphql_url, content=body, headers={"Content-Type": "application/json"}
            ),
            idempotent=idempotent,
        )
        return graphql_data(response)

    async def upload(
        self,
        document: str,
        variables: JSON,
        file_variable: str,
        path: Path,
        on_bytes: Callable[[int], None] | None = None,
    ) -> JSON:
        """One file by the GraphQL multipart request spec, streamed from disk.

        The same file sent twice imports nothing twice (imports are upserts), so a failed send
        is retried like any idempotent call; the file is reopened for each attempt.
        """
        operations = encode({"query": document, "variables": variables}).decode()
        mapping = json.dumps({"0": [f"variables.{file_variable}"]})

        async def attempt() -> httpx.Response:
            with path.open("rb") as handle:
                reader = _CountingReader(handle, on_bytes)
                return await self.http.post(
                    self.graphql_url,
                    data={"operations": operations, "map": mapping},
                    files={"0": (path.name, cast(IO[bytes], reader), "application/octet-stream")},
                    # a browser cannot send this header cross-site without a preflight: the
                    # server's guard against forms posted to it from other pages
                    headers={"Apollo-Require-Preflight": "true"},
                )

        response = await self.send(attempt, idempotent=True)
        return graphql_data(response)

    async def download(
        self, url: str, out: Path, on_bytes: Callable[[int], None] | None = None
    ) -> int:
        """GET ``url`` (relative to the server) into ``out``, streamed; the bytes written."""
        target = url if url.startswith(("http://", "https://")) else f"{self.base}{url}"
        partial = out.with_name(out.name + ".part")
        for attempt in range(self.retry.attempts):
            written = 0
            try:
                async with self.http.stream("GET", target) as response:
                    if response.status_code in RETRY_STATUSES:
                        delay = self.retry.delay(
                            attempt, parse_retry_after(response.headers.get("Retry-After"))
                        )
                        if attempt + 1 < self.retry.attempts:
                            await asyncio.sleep(delay)
                            continue
                        raise ServerUnavailableError(
                            f"HTTP {response.status_code} from {target}", attempt + 1
                        )
                    if response.status_code != 200:
                        await response.aread()
                        raise status_error(response)
                    with partial.open("wb") as sink:
                        async for chunk in response.aiter_bytes():
                            sink.write(chunk)
                            written += len(chunk)
                            if on_bytes is not None:
                                on_bytes(len(chunk))
                partial.replace(out)
                return written
            except httpx.TransportError as exc:
                if attempt + 1 >= self.retry.attempts:
                    raise ServerUnavailableError(
                        f"{type(exc).__name__}: {exc}", attempt + 1
                    ) from exc
                await asyncio.sleep(self.retry.delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    async def send(
        self, request: Callable[[], Awaitable[httpx.Response]], *, idempotent: bool
    ) -> httpx.Response:
        """The response of ``request``, retried on connection errors, 5xx and 429 (a call that is
        not idempotent only when the server cannot have acted on it: no connection, or 429)."""
        last = ""
        for attempt in range(self.retry.attempts):
            retry_after: float | None = None
            self.requests_sent += 1
            try:
                response = await request()
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if not idempotent and not isinstance(exc, NOT_SENT):
                    raise ServerUnavailableError(
                        f"{last}; the request may or may not have been applied", attempt + 1
                    ) from exc
            else:
                status = response.status_code
                retryable = status == 429 or (idempotent and status in RETRY_STATUSES)
                if not retryable:
                    return response
                last = f"HTTP {status} from {response.url}"
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if retry_after is not None and retry_after > self.retry.max_retry_after_seconds:
                    raise ServerUnavailableError(
                        f"{last}: Retry-After {retry_after:.0f}s is beyond the client's limit",
                        attempt + 1,
                    )
            if attempt + 1 < self.retry.attempts:
                await asyncio.sleep(self.retry.delay(attempt, retry_after))
        raise ServerUnavailableError(last, self.retry.attempts)


class _CountingReader:
    """A binary file that reports each chunk read (upload progress) and keeps its length
    visible to httpx (``fileno``), so the upload has a Content-Length."""

    def __init__(self, handle: IO[bytes], on_bytes: Callable[[int], None] | None) -> None:
        self.handle = handle
        self.on_bytes = on_bytes

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(size)
        if chunk and self.on_bytes is not None:
            self.on_bytes(len(chunk))
        return chunk

    def fileno(self) -> int:
        return self.handle.fileno()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.handle.seek(offset, whence)

    def tell(self) -> int:
        return self.handle.tell()


def status_error(response: httpx.Response) -> HTTPError:
    status, url = response.status_code, str(response.url)
    text = response.text
    if status == 401:
        return AuthenticationError(status, text, url)
    if status == 403:
        return PermissionDeniedError(status, text, url)
    if status == 413:
        return RequestTooLargeError(status, text, url)
    return HTTPError(status, text, url)


def graphql_data(response: httpx.Response) -> JSON:
    """``data`` of a GraphQL answer, or the typed error it carries."""
    if response.status_code in (401, 403, 413):
        raise status_error(response)
    try:
        body = response.json()
    except ValueError:
        raise status_error(response) from None
    if not isinstance(body, dict):
        raise status_error(response)
    errors = body.get("errors")
    if errors and (response.status_code == 200 or _code(errors) is not None):
        raise top_level_error(errors)
    if response.status_code != 200 or not isinstance(body.get("data"), dict):
        raise status_error(response)
    data: JSON = body["data"]
    return data


def _code(errors: list[JSON]) -> str | None:
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    code = (first.get("extensions") or {}).get("code")
    return str(code) if code is not None else None


def top_level_error(errors: list[JSON]) -> Exception:
    """The typed form of a GraphQL ``errors`` list (its first error decides)."""
    extensions = (errors[0].get("extensions") or {}) if errors else {}
    code = extensions.get("code")
    message = str(errors[0].get("message", "")) if errors else ""
    if code == "LIMIT_EXCEEDED":
        return LimitExceededError(errors)
    if code in ("INVALID_INPUT", "BAD_USER_INPUT") and extensions.get("issues"):
        issues = [
            Issue(str(i.get("path", "")), str(i.get("message", ""))) for i in extensions["issues"]
        ]
        return InvalidInputError(message or "invalid input", issues)
    if code == "NOT_FOUND":
        return NotFoundError(message)
    if code == "UNAUTHENTICATED":
        return AuthenticationError(401, message, "")
    if code == "FORBIDDEN":
        return PermissionDeniedError(403, message, "")
    return GraphQLError(errors)
