"""The collector every check reports into, so a batch is judged whole before it is refused."""

from __future__ import annotations

from sliceboard.errors import InvalidInput, Issue


class Issues:
    """Offending fields of one request, in the order they were found."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[Issue] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(Issue(path, message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidInput(self.items)
