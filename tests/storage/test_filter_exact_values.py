"""Filter values are exact or refused (issue 11 §4, §5, §7): NaN, infinity, huge integers, bad text
and over-long paths are InvalidInput at their field; IN / NOT_IN take 10,000 values on both
databases with the same type-aware semantics as a short list."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sliceboard.errors import InvalidInput
from sliceboard.storage import tables
from sliceboard.storage.db import read_session, transaction
from sliceboard.storage.filters import item_filter_clause, validate_item_filter
from sliceboard.storage.reads import select_item_ids

METADATA: dict[str, dict[str, Any]] = {
    "a": {"v": 5},
    "b": {"v": 5.5},
    "c": {"v": "5"},
    "d": {"v": True},
    "e": {"v": None},
    "f": {"v": [5]},
    "g": {},
    "h": {"v": "x"},
    "i": {"v": False},
    "j": {"v": 1},
}


def _condition(op: str, value: Any, field: str = "v") -> dict[str, Any]:
    return {"metadata": {"field": field, "op": op, "value": value}}


def _issue_paths(filter: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        validate_item_filter(filter)
    return [issue.path for issue in caught.value.issues]


@pytest.mark.parametrize(
    "value",
    [float("inf"), float("-inf"), float("nan"), 10**400, -(2**63) - 1, 2**63, "a\x00b", "\ud800"],
    ids=["inf", "-inf", "nan", "400 digits", "below int64", "above int64", "NUL", "surrogate"],
)
@pytest.mark.parametrize("op", ["EQ", "NE", "GT", "GTE", "LT", "LTE", "CONTAINS"])
def test_inexact_scalars_are_refused_at_the_value(op: str, value: Any) -> None:
    assert _issue_paths(_condition(op, value)) == ["filter.metadata.value"]


@pytest.mark.parametrize("op", ["IN", "NOT_IN"])
def test_inexact_list_members_are_refused_at_their_index(op: str) -> None:
    filter = _condition(op, [1, float("inf"), "ok", 10**400, "\ud800"])
    assert _issue_paths(filter) == [
        "filter.metadata.value[1]",
        "filter.metadata.value[3]",
        "filter.metadata.value[4]",
    ]


def test_bad_text_in_reference_ids_and_labels_is_refused_at_its_index() -> None:
    filter = {"referenceIds": ["a", "b\x00"], "not": {"hasAnnotationLabel": ["\udfff"]}}
    assert _issue_paths(filter) == ["filter.not.hasAnnotationLabel[0]", "filter.referenceIds[1]"]


def test_the_field_path_has_at_most_32_segments() -> None:
    validate_item_filter(_condition("EQ", 1, ".".join(["k"] * 32)))
    assert _issue_paths(_condition("EQ", 1, ".".join(["k"] * 33))) == ["filter.metadata.field"]
    assert _issue_paths(_condition("EQ", 1, ".".join(["k"] * 150))) == ["filter.metadata.field"]


def test_largest_exact_values_are_accepted() -> None:
    validate_item_filter(_condition("IN", [2**63 - 1, -(2**63), 1.7976931348623157e308, "é"]))


async def _world(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, dict[int, str]]:
    async with transaction(sessions) as session:
        dataset = tables.Dataset(name="d")
        session.add(dataset)
        await session.flush()
        assert dataset.id is not None
        items = {
            ref: tables.Item(dataset_id=dataset.id, reference_id=ref, metadata_=meta)
            for ref, meta in METADATA.items()
        }
        session.add_all(items.values())
        await session.flush()
        return dataset.id, {int(item.id or 0): ref for ref, item in items.items()}


async def _select(
    sessions: async_sessionmaker[AsyncSession],
    dataset_id: int,
    refs: dict[int, str],
    filter: dict[str, Any],
) -> list[str]:
    validate_item_filter(filter)
    async with read_session(sessions) as session:
        dialect = session.get_bind().dialect.name
        where = item_filter_clause(
            filter, dataset_id=dataset_id, model_run_id=None, dialect=dialect
        )
        ids = await select_item_ids(session=session, where=where)
    return sorted(refs[i] for i in ids)


# Fillers that match nothing: numbers far from every stored one, strings none of them hold.
NUMBER_FILLERS = [1000.0 + i for i in range(5_000)]
STRING_FILLERS = [f"s{i}" for i in range(4_996)]


async def test_ten_thousand_values_keep_the_short_list_semantics(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """IN/NOT_IN of 10,000 values (the validation limit) select exactly what the short list of
    their matching members selects: numbers against numbers (5 = 5.0, never "5"), strings
    against strings, true/false/null against themselves, never inside arrays."""
    dataset_id, refs = await _world(sessions)
    cases: list[tuple[list[Any], list[str]]] = [
        ([5.0, "x", True, None], ["a", "d", "e", "h"]),
        ([5, "5", False], ["a", "c", "i"]),
        ([1, 5.5], ["b", "j"]),
        ([True], ["d"]),
    ]
    everything = sorted(METADATA)
    for members, expected in cases:
        values = [*members, *NUMBER_FILLERS, *STRING_FILLERS][:10_000]
        assert await _select(sessions, dataset_id, refs, _condition("IN", values)) == expected
        assert await _select(sessions, dataset_id, refs, _condition("NOT_IN", values)) == [
            ref for ref in everything if ref not in expected
        ]
