"""The metrics cache keys a filter by ``filter_key``: two filters that can select different items
never share a key (issue 11 §4: ``1e400`` and ``-1e400`` both wrote ``null`` and shared one)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sliceboard.errors import InvalidInput
from sliceboard.services.slices import filter_key
from sliceboard.storage.filters import validate_item_filter

# Small pools, so that equal keys come up often; inexact values among them.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, 1, -1, 5, 2**63 - 1, 2**63, 10**400, -(10**400)]),
    st.sampled_from([0.0, -0.0, 1.0, 5.0, 0.1, 1e308, float("inf"), float("-inf"), float("nan")]),
    st.sampled_from(["", "a", "5", "null", "\ud800", "\udc00", "a\x00", "a\x00b"]),
)
OPS = st.sampled_from(["EQ", "NE", "IN", "NOT_IN", "GT", "LTE", "CONTAINS", "EXISTS"])
LEAVES = st.one_of(
    st.builds(
        lambda field, op, value: {"metadata": {"field": field, "op": op, "value": value}},
        st.sampled_from(["a", "b.c"]),
        OPS,
        st.one_of(SCALARS, st.lists(SCALARS, min_size=1, max_size=3)),
    ),
    st.builds(lambda refs: {"referenceIds": refs}, st.lists(st.sampled_from(["r", "\ud800"]))),
)


def _combined(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(lambda c: {"not": c}, children),
        st.builds(lambda cs: {"and": cs}, st.lists(children, max_size=2)),
        st.builds(lambda cs: {"or": cs}, st.lists(children, max_size=2)),
    )


FILTERS = st.recursive(LEAVES, _combined, max_leaves=4)


def _same(left: Any, right: Any) -> bool:
    """Equal as the filter compiler sees them: same types (True is not 1), NaN not a wildcard."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_same, left, right))
    if isinstance(left, float):
        return left == right and str(left) == str(right)
    return bool(left == right)


def _valid(filter: dict[str, Any]) -> bool:
    """Whether the filter gets a key; ``filter_key`` refuses exactly what validation refuses."""
    try:
        validate_item_filter(filter)
    except InvalidInput:
        try:
            filter_key(filter)
        except InvalidInput:
            return False
        raise AssertionError(f"a refused filter got a key: {filter!r}") from None
    try:
        filter_key(filter)
    except TypeError:  # orjson refuses the value: the filter never reaches a cache
        raise AssertionError(f"a valid filter has no key: {filter!r}") from None
    return True


def _meta(value: Any) -> dict[str, Any]:
    return {"metadata": {"field": "a", "op": "GTE", "value": value}}


@settings(max_examples=400, deadline=None)
@given(FILTERS, FILTERS)
@example(_meta(float("inf")), _meta(float("-inf")))
@example(_meta(float("nan")), _meta(float("inf")))
def test_filters_sharing_a_key_are_the_same_filter(left: Any, right: Any) -> None:
    if not (_valid(left) and _valid(right)):
        return
    if filter_key(left) == filter_key(right):
        assert _same(left, right), (left, right)


@settings(max_examples=200, deadline=None)
@given(FILTERS)
def test_every_valid_filter_has_a_key_and_no_other(filter: Any) -> None:
    _valid(filter)


def test_a_refused_filter_never_shares_the_key_of_an_accepted_one() -> None:
    """EQ null is valid; EQ NaN wrote the same JSON and must be refused before any lookup."""
    accepted = filter_key({"metadata": {"field": "a", "op": "EQ", "value": None}})
    assert accepted is not None
    with pytest.raises(InvalidInput):
        filter_key({"metadata": {"field": "a", "op": "EQ", "value": float("nan")}})
