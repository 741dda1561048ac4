"""Uploads of any length as batches under the server's limits.

The server takes at most ``SLICEBOARD_MAX_BATCH_ROWS`` rows (default 10,000) and
``SLICEBOARD_MAX_BODY_BYTES`` bytes (default 64 MiB) per request and does not publish either,
so the client starts from those defaults and learns: a batch refused for its row count is
re-cut at the limit the server names, and one refused with 413 is halved. A batch is encoded
in one call and halved while it is over the byte budget.

Each batch is one transaction on the server; a refused batch raises with issue paths counted
from the start of the whole upload (``items[12345].box.width``), and the batches before it stay
written (re-sending everything is safe: upserts are idempotent on the user's keys).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from sliceboard.client.errors import InvalidInputError, Issue, RequestTooLargeError
from sliceboard.client.models import UpsertResult
from sliceboard.client.payloads import unwrap
from sliceboard.client.transport import Transport, encode

DEFAULT_MAX_ROWS = 10_000
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
#: Room left in a body for the query text and the variables beside the rows.
BODY_MARGIN = 0.9
_ROW_LIMIT = re.compile(r"exceed the limit of (\d+) rows")
_ROW_LIMIT_METRICS = re.compile(r"at most (\d+) metrics per request")


@dataclass
class BatchLimits:
    """What one request may carry; lowered when the server refuses a batch as too large."""

    rows: int = DEFAULT_MAX_ROWS
    body_bytes: int = DEFAULT_MAX_BODY_BYTES

    def __post_init__(self) -> None:
        if self.rows < 1 or self.body_bytes < 1:
            raise ValueError("batch limits must be at least 1")


@dataclass(frozen=True)
class BatchTarget:
    """One upload mutation: its document, the variables beside the rows, the rows' name."""

    document: str
    field: str
    rows_name: str
    variables: dict[str, Any]


def encode_rows(rows: list[Any], rows_name: str, start: int) -> bytes:
    """The rows as one JSON array, by orjson (ten times faster than the standard library).

    orjson writes NaN and infinities as ``null``; where a ``null`` appears the rows are checked
    again one by one with the standard library, which refuses them, so a non-finite number is
    never sent as a silent null. Rows the server would refuse anyway (integers beyond 64 bits,
    keys that are not strings) are refused here with their index.
    """
    try:
        data = orjson.dumps(rows)
    except TypeError:
        data = b""
    if data and b"null" not in data:
        return data
    for index, row in enumerate(rows):
        try:
            orjson.dumps(row)
            # only to find non-finite numbers: types orjson writes are passed through ``str``
            json.dumps(row, allow_nan=False, default=str)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                "a row cannot be sent as JSON", [Issue(f"{rows_name}[{start + index}]", str(exc))]
            ) from None
    return data


def _chunks(rows: Iterable[Any], limits: BatchLimits) -> Iterator[list[Any]]:
    """Lists of at most ``limits.rows`` rows (read anew for each list: it may be lowered)."""
    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= limits.rows:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class Batcher:
    def __init__(self, transport: Transport, limits: BatchLimits) -> None:
        self.transport = transport
        self.limits = limits

    async def upload(
        self,
        target: BatchTarget,
        rows: Iterable[Any],
        on_rows: Callable[[int], None] | None = None,
    ) -> UpsertResult:
        """Every row sent, in order, in as few batches as the limits allow; the summed counts."""
        total = UpsertResult()
        start = 0
        for chunk in _chunks(rows, self.limits):
            total += await self._send(target, chunk, start, on_rows)
            start += len(chunk)
        return total

    async def _send(
        self,
        target: BatchTarget,
        chunk: list[Any],
        start: int,
        on_rows: Callable[[int], None] | None,
    ) -> UpsertResult:
        if len(chunk) > self.limits.rows:
            return await self._split(target, chunk, start, on_rows, self.limits.rows)
        encoded = encode_rows(chunk, target.rows_name, start)
        if len(encoded) > self.limits.body_bytes * BODY_MARGIN and len(chunk) > 1:
            return await self._split(target, chunk, start, on_rows, (len(chunk) + 1) // 2)
        variables = encode(target.variables)[:-1]  # the object without its closing brace
        glue = b"," if target.variables else b""
        body = b"".join(
            [
                b'{"query":',
                encode(target.document),
                b',"variables":',
                variables,
                glue,
                b'"rows":',
                encoded,
                b"}}",
            ]
        )
        try:
            data = await self.transport.execute_body(body)
        except RequestTooLargeError:
            if len(chunk) == 1:
                raise
            self.limits.body_bytes = min(self.limits.body_bytes, len(body) // 2)
            return await self._split(target, chunk, start, on_rows, (len(chunk) + 1) // 2)
        try:
            result = UpsertResult.of(unwrap(data[target.field]))
        except InvalidInputError as exc:
            learned = _row_limit(exc, target.rows_name)
            if learned is not None and learned < len(chunk):
                self.limits.rows = learned
                return await self._split(target, chunk, start, on_rows, learned)
            raise _shifted(exc, target.rows_name, start, len(chunk)) from None
        if on_rows is not None:
            on_rows(len(chunk))
        return result

    async def _split(
        self,
        target: BatchTarget,
        chunk: list[Any],
        start: int,
        on_rows: Callable[[int], None] | None,
        size: int,
    ) -> UpsertResult:
        total = UpsertResult()
        for offset in range(0, len(chunk), size):
            total += await self._send(
                target, chunk[offset : offset + size], start + offset, on_rows
            )
        return total


def _row_limit(error: InvalidInputError, rows_name: str) -> int | None:
    """The server's rows-per-batch limit, when that is why it refused the batch."""
    for issue in error.issues:
        if issue.path == rows_name:
            found = _ROW_LIMIT.search(issue.message) or _ROW_LIMIT_METRICS.search(issue.message)
            if found:
                return max(1, int(found.group(1)))
    return None


def _shifted(error: InvalidInputError, rows_name: str, start: int, count: int) -> InvalidInputError:
    """The same error with row indices counted over the whole upload."""
    pattern = re.compile(rf"^{re.escape(rows_name)}\[(\d+)\]")

    def shift(path: str) -> str:
        return pattern.sub(lambda m: f"{rows_name}[{int(m.group(1)) + start}]", path)

    issues = [Issue(shift(issue.path), issue.message) for issue in error.issues]
    written = f"; rows before {start} were written by earlier batches" if start else ""
    message = (
        f"{error.message} (batch of {rows_name}[{start}..{start + count - 1}] refused{written})"
    )
    return InvalidInputError(message, issues)
