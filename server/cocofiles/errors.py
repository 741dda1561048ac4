"""The one error a COCO file can cause: what is wrong and exactly where."""

from __future__ import annotations

from sliceboard.errors import InvalidInput, Issue


class CocoFileError(InvalidInput):
    """A COCO file that cannot be evaluated.

    ``str(error)`` is one line, ``FILE: POSITION: PROBLEM``, e.g.
    ``dt.json: annotation 17 (image_id 42): image_id not in ground truth``.
    Positions are 0-based indices into the file's arrays.
    """

    def __init__(self, file: str, where: str, problem: str) -> None:
        self.file = file
        self.where = where
        self.problem = problem
        path = f"{file}: {where}" if where else file
        super().__init__([Issue(path=path, message=problem)], message=f"{path}: {problem}")


def short_repr(value: object, limit: int = 60) -> str:
    """``repr`` cut to ``limit`` characters, for naming a bad value in one line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
