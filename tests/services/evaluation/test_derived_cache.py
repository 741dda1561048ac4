"""What the snapshot cache derives from a snapshot (reports, selections) leaves with it, so
nothing keeps an evicted snapshot's arrays, and their file's mapping, alive."""

from __future__ import annotations

from sliceboard.services.evaluation.cache import Derived


def test_derived_values_go_with_their_snapshot() -> None:
    held = {1, 2}
    reports: Derived[str] = Derived(10, held.__contains__)
    reports.put((1, "a"), "one a")
    reports.put((1, "b"), "one b")
    reports.put((2, "a"), "two a")
    reports.drop(1)
    assert reports.get((1, "a")) is None and reports.get((1, "b")) is None
    assert reports.get((2, "a")) == "two a"


def test_nothing_is_kept_for_a_snapshot_evicted_meanwhile() -> None:
    held = {2}
    reports: Derived[str] = Derived(10, held.__contains__)
    assert reports.put((1, "a"), "computed after its snapshot left") == []
    assert reports.get((1, "a")) is None
