"""Progress bars on a terminal only: scripts, logs and CI get no bar characters.

``progress=None`` (the default everywhere) means "a bar when stderr is a terminal";
``True``/``False`` force it. Bars are tqdm's.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any, TextIO


def wanted(progress: bool | None, stream: TextIO | None = None) -> bool:
    if progress is not None:
        return progress
    target = sys.stderr if stream is None else stream
    try:
        return bool(target.isatty())
    except (AttributeError, ValueError):
        return False


class Bar:
    """A counter that draws a tqdm bar when wanted and costs nothing otherwise."""

    def __init__(
        self,
        description: str,
        total: float | None = None,
        unit: str = "it",
        progress: bool | None = None,
        stream: TextIO | None = None,
        unit_scale: bool = False,
    ) -> None:
        self.count = 0.0
        self._bar: Any = None
        if wanted(progress, stream):
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                desc=description,
                unit=unit,
                unit_scale=unit_scale,
                file=sys.stderr if stream is None else stream,
                leave=True,
                dynamic_ncols=True,
            )

    @property
    def drawn(self) -> bool:
        return self._bar is not None

    def advance(self, amount: float) -> None:
        self.count += amount
        if self._bar is not None:
            self._bar.update(amount)

    def set_total(self, total: float) -> None:
        if self._bar is not None and self._bar.total != total:
            self._bar.total = total
            self._bar.refresh()

    def move_to(self, value: float, note: str | None = None) -> None:
        """Set the count (job progress is reported as a level, not as increments)."""
        if value > self.count:
            self.advance(value - self.count)
        if note and self._bar is not None:
            self._bar.set_postfix_str(note[:60], refresh=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
