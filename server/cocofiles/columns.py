"""Reading a COCO JSON file and pulling typed numpy columns out of its object lists.

The fast path for every column is one list comprehension over the parsed objects
and one ``np.array`` call; only when that fails (a missing key, a wrong length, a
string where a number belongs, NaN) does a slow scan run, to name the first
offending object in one line. orjson does the parsing with the garbage collector
paused: it allocates millions of small objects, and a collector pass over them
costs more than the parse itself.
"""

from __future__ import annotations

import gc
import json
import mmap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import numpy as np
import orjson
from numpy.typing import NDArray

from sliceboard.cocofiles.errors import CocoFileError, short_repr

FloatArray = NDArray[np.float64]
_NUMBER_TYPES = (int, float)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Disables the cyclic garbage collector inside the block (restores its state)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_json(path: str) -> Any:
    """Parses ``path``; a file that is not JSON raises CocoFileError with line and column.

    NaN and Infinity are not JSON, but Python's ``json.dump`` writes them: such a
    file is parsed anyway so that validation can name the object holding them.
    """
    return parse_json(path, read_bytes(path))


def read_bytes(path: str) -> bytes:
    """The file's bytes; an unreadable file raises CocoFileError."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise CocoFileError(path, "", f"cannot read the file ({exc.strerror or exc})") from None


def map_file(path: str) -> bytes:
    """The file's bytes as a read-only mapping (an ``mmap``, which reads like ``bytes``:
    slicing, ``re``), so that a sliced reader can drop the pages it has read (see
    slices.py); an empty or unmappable file is read instead."""
    try:
        with open(path, "rb") as handle:
            return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)  # type: ignore[return-value]
    except (OSError, ValueError):
        return read_bytes(path)


def parse_json(path: str, data: bytes) -> Any:
    """``data`` (the bytes of ``path``) parsed as :func:`read_json` parses them."""
    with paused_gc():
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
        try:
            return json.loads(data)
        except UnicodeDecodeError:
            raise CocoFileError(path, "", "not a JSON file (not UTF-8 text)") from None
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno} column {exc.colno}"
            raise CocoFileError(path, where, f"not valid JSON ({exc.msg})") from None


def is_number(value: object) -> bool:
    """A JSON number (bool is not one, though Python says it is an int)."""
    return type(value) in _NUMBER_TYPES


class Records:
    """One list of JSON objects of a file (images, categories or annotations).

    ``where(i)`` names object ``i`` for an error message, e.g.
    ``annotation 17 (image_id 42)``.
    """

    def __init__(self, file: str, items: object, name: str, where: Callable[[int], str]) -> None:
        self.file = file
        self.where = where
        if not isinstance(items, list):
            raise CocoFileError(file, name, f"must be a JSON array, got {type(items).__name__}")
        if items and set(map(type, items)) != {dict}:
            i = next(i for i, item in enumerate(items) if type(item) is not dict)
            raise CocoFileError(
                file, f"{name} {i}", f"must be a JSON object, got {short_repr(items[i])}"
            )
        self.items: list[dict[str, Any]] = items

    def __len__(self) -> int:
        return len(self.items)

    def fail(self, index: int, problem: str) -> NoReturn:
        raise CocoFileError(self.file, self.where(index), problem)

    def column(self, key: str) -> list[Any]:
        """``[item[key] ...]``; a missing key names the first object without it."""
        try:
            return [item[key] for item in self.items]
        except KeyError:
            i = next(i for i, item in enumerate(self.items) if key not in item)
            self.fail(i, f"{key} is missing")

    def column_or(self, key: str, default: object) -> list[Any]:
        return [item.get(key, default) for item in self.items]

    def numbers(self, key: str, values: list[Any] | None = None) -> FloatArray:
        """Column ``key`` (or ``values``) as float64 (n,); each must be a finite number."""
        if values is None:
            values = self.column(key)
        array = _numeric(values)
        if array is None or array.ndim != 1:
            for i, value in enumerate(values):
                if not is_number(value):
                    self.fail(i, f"{key} must be a number, got {short_repr(value)}")
            array = np.array([float(v) for v in values], dtype=np.float64)
        out = array.astype(np.float64, copy=False).reshape(len(values))
        self._check_finite(key, out, values)
        return out

    def vectors(self, key: str, values: list[Any], width: int) -> FloatArray:
        """``values`` (lists of ``width`` numbers) as float64 (n, width), all finite."""
        array = _numeric(values)
        if array is None or array.ndim != 2 or array.shape[1] != width:
            if not values:
                return np.zeros((0, width), dtype=np.float64)
            for i, value in enumerate(values):
                if (
                    type(value) is not list
                    or len(value) != width
                    or not all(is_number(v) for v in value)
                ):
                    self.fail(
                        i, f"{key} must be a list of {width} numbers, got {short_repr(value)}"
                    )
            array = np.array([[float(v) for v in value] for value in values], dtype=np.float64)
        out = array.astype(np.float64, copy=False)
        self._check_finite(key, out, values)
        return out

    def _check_finite(self, key: str, array: FloatArray, values: list[Any]) -> None:
        finite = np.isfinite(array)
        if not finite.all():
            i = int(np.flatnonzero(~finite.reshape(len(values), -1).all(axis=1))[0])
            self.fail(i, f"{key} {short_repr(values[i])} is not a finite number")


def _numeric(values: list[Any]) -> NDArray[Any] | None:
    """``np.array(values)`` when it is purely numeric, else None (strings, ragged, None)."""
    try:
        array = np.array(values)
    except (ValueError, TypeError, OverflowError):
        return None
    if array.dtype.kind not in "iuf":
        return None
    return array


class GrowingColumn:
    """An array filled slice by slice in place.

    Keeping one small array per slice and concatenating at the end would leave a
    numpy object alive in each slice's memory, pinning the parser's arenas (RSS and
    parse time then grow with the file). ``capacity`` may be generous: pages that
    are never written are never resident.
    """

    def __init__(
        self,
        capacity: int,
        dtype: type[np.generic],
        width: int = 0,
        *,
        buffer: NDArray[Any] | None = None,
    ) -> None:
        shape = (capacity, width) if width else (capacity,)
        self._buffer: NDArray[Any] = np.empty(shape, dtype=dtype) if buffer is None else buffer
        self.size = 0
        self.grew = False  # the buffer was replaced (one given by the caller is no longer used)

    @property
    def buffer(self) -> NDArray[Any]:
        return self._buffer

    def extend(self, values: NDArray[Any]) -> None:
        end = self.size + values.shape[0]
        if end > self._buffer.shape[0]:
            self.grew = True
            shape = (max(end, 2 * self._buffer.shape[0]), *self._buffer.shape[1:])
            grown = np.empty(shape, dtype=self._buffer.dtype)
            grown[: self.size] = self._buffer[: self.size]
            self._buffer = grown
        self._buffer[self.size : end] = values
        self.size = end

    def array(self) -> NDArray[Any]:
        return self._buffer[: self.size]
