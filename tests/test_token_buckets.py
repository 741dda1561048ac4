"""The token buckets behind the rate limits, on a clock the test moves."""

from __future__ import annotations

import pytest

from sliceboard.rate_limits import TokenBuckets, retry_after_header


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_token_per_interval() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, max_keys=10, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # empty: one token in 1/rate seconds
    clock.now += 0.25
    assert buckets.take("a") == pytest.approx(0.25)  # half a token refilled
    clock.now += 0.25
    assert buckets.take("a") == 0.0
    assert buckets.take("b") == 0.0  # keys are independent


def test_refill_stops_at_the_burst() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=1.0, burst=2, max_keys=10, clock=clock)
    buckets.take("a")
    clock.now += 3600  # idle for an hour: still only two tokens
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, pytest.approx(1.0)]


def test_memory_is_bounded_and_the_least_recent_key_goes() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=1.0, burst=1, max_keys=3, clock=clock)
    for key in ("a", "b", "c"):
        assert buckets.take(key) == 0.0
    assert buckets.take("a") > 0  # a is now the most recent; b the least
    assert buckets.take("d") == 0.0
    assert buckets.size() == 3
    assert buckets.take("a") > 0  # kept, still empty
    assert buckets.take("b") == 0.0  # forgotten, so a fresh full bucket


def test_a_token_given_back_is_usable_again() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=1 / 3600, burst=1, max_keys=10, clock=clock)
    assert buckets.take("run") == 0.0
    assert buckets.take("run") == pytest.approx(3600)
    buckets.give_back("run")
    assert buckets.take("run") == 0.0


@pytest.mark.parametrize(("seconds", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2"), (59.5, "60")])
def test_retry_after_rounds_up_to_whole_seconds(seconds: float, header: str) -> None:
    assert retry_after_header(seconds) == header
