"""What a document asks for below the current field, to read ahead what it will need."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

from sliceboard.schema.context import Info


def _fields(selections: Iterable[Any]) -> Iterable[SelectedField]:
    """The fields of ``selections`` with fragments (spread or inline) opened."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        elif isinstance(selection, FragmentSpread | InlineFragment):
            yield from _fields(selection.selections)


def _reaches(selections: Iterable[Any], path: Sequence[str]) -> bool:
    if not path:
        return True
    return any(
        _reaches(field.selections, path[1:])
        for field in _fields(selections)
        if field.name == path[0]
    )


def selects(info: Info, *paths: Sequence[str]) -> bool:
    """True when the current field's selection reaches any of ``paths`` (GraphQL field names).

    Directives are not evaluated here, so a ``@skip``ped field still counts: callers only use
    it to read ahead what the resolvers below will ask for, never to decide what the answer
    contains.
    """
    below = [selection for field in info.selected_fields for selection in field.selections]
    return any(_reaches(below, path) for path in paths)
