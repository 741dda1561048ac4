"""The bounds every client input is checked against (README "Input limits"), from the settings.

Validation runs deep inside upload and filter code that is handed rows, not settings, so the
active bounds live here: the app sets them from its settings at start-up
(``configure_input_limits``); a process that never does reads them from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass

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
        )


_active: list[InputLimits] = []


def configure_input_limits(settings: Settings) -> None:
    _active[:] = [InputLimits.of(settings)]


def input_limits() -> InputLimits:
    if not _active:
        _active.append(InputLimits.of(Settings.from_env()))
    return _active[0]
