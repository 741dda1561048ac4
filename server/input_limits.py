"""The bounds every client input is checked against (README "Input limits"), from the settings.

Validation runs deep inside upload and filter code that is handed rows, not settings, so the
bounds travel in a context variable: each GraphQL request sets its runtime's bounds
(``use_input_limits`` in schema/http.py), so two apps in one process keep their own; code
that runs outside a request reads them from the environment.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache

from sliceboard.config import Settings

#: JSON integers are stored exactly only within signed 64 bits (SQLite's integer, orjson's range).
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class InputLimits:
    metadata_depth: int
    metadata_bytes: int
    filter_path_segments: int
    coordinate: float
    rotation: float
    mask_side: int
    mask_pixels: int
    mask_bytes: int = 32 * 1024 * 1024
    mask_fetch_seconds: float = 10.0
    masks_per_batch: int = 100
    media_root: str | None = None

    @classmethod
    def of(cls, settings: Settings) -> InputLimits:
        return cls(
            metadata_depth=settings.max_metadata_depth,
            metadata_bytes=settings.max_metadata_bytes,
            filter_path_segments=settings.max_filter_path_segments,
            coordinate=settings.max_coordinate,
            rotation=settings.max_rotation,
            mask_side=settings.max_mask_side,
            mask_pixels=settings.max_mask_pixels,
            mask_bytes=settings.max_mask_bytes,
            mask_fetch_seconds=settings.mask_fetch_timeout_seconds,
            masks_per_batch=settings.max_masks_per_batch,
            media_root=settings.media_root,
        )


_ACTIVE: ContextVar[InputLimits | None] = ContextVar("sliceboard_input_limits", default=None)


def use_input_limits(limits: InputLimits) -> None:
    """The bounds for the rest of the current request (its task and the tasks it starts)."""
    _ACTIVE.set(limits)


@cache
def _from_environment() -> InputLimits:
    return InputLimits.of(Settings.from_env())


def input_limits() -> InputLimits:
    active = _ACTIVE.get()
    return active if active is not None else _from_environment()
