"""Retries against a real flaky endpoint in front of a real server: 5xx and 429 are retried with
backoff (Retry-After honoured), a lost answer to an idempotent upsert is re-sent safely, a
creation is never re-sent once it may have been applied, and 401/403 are not retried."""

from __future__ import annotations

import socket
import time

import pytest

from sliceboard.client import (
    AuthenticationError,
    Client,
    PermissionDeniedError,
    RetryPolicy,
    ServerUnavailableError,
)
from tests.support.flaky_proxy import flaky_proxy

pytestmark = pytest.mark.slow

QUICK = RetryPolicy(attempts=4, base_seconds=0.01, cap_seconds=0.05)


def items(n: int) -> list[dict[str, object]]:
    return [{"referenceId": f"i{k}"} for k in range(n)]


def test_5xx_then_success(served: str, unique: str) -> None:
    with flaky_proxy(served) as proxy, Client(proxy.url, retry=QUICK) as client:
        dataset = client.ensure_dataset(f"d-{unique}")
        proxy.seen.clear()
        proxy.then(503).then(502)
        assert client.upsert_items(dataset, items(5)).new == 5
        assert len(proxy.seen) == 3
        assert len(list(client.items(dataset))) == 5


def test_429_waits_as_long_as_retry_after_says(served: str, unique: str) -> None:
    with flaky_proxy(served) as proxy, Client(proxy.url, retry=QUICK) as client:
        proxy.then(429, Retry_After="1")
        started = time.monotonic()
        dataset = client.create_dataset(f"d-{unique}")  # 429: never executed, so retried
        assert time.monotonic() - started >= 1.0
        assert len(proxy.seen) == 2 and dataset.name == f"d-{unique}"


def test_a_lost_answer_to_an_upsert_is_resent_and_writes_once(served: str, unique: str) -> None:
    with flaky_proxy(served) as proxy, Client(proxy.url, retry=QUICK) as client:
        dataset = client.ensure_dataset(f"d-{unique}")
        proxy.seen.clear()
        proxy.then("drop-after").then("drop-before")
        result = client.upsert_items(dataset, items(4))
        # the first send was applied, its answer lost; the re-send found the rows there
        assert (result.new, result.ignored) == (0, 4)
        assert len(proxy.seen) == 3
        assert [i.reference_id for i in client.items(dataset)] == ["i0", "i1", "i2", "i3"]


def test_a_creation_is_not_resent_once_it_may_have_been_applied(served: str, unique: str) -> None:
    with flaky_proxy(served) as proxy, Client(proxy.url, retry=QUICK) as client:
        proxy.then("drop-after")
        with pytest.raises(ServerUnavailableError, match="may or may not have been applied"):
            client.create_dataset(f"d-{unique}")
        assert len(proxy.seen) == 1
        assert client.dataset(name=f"d-{unique}") is not None  # it was applied
        proxy.then(503)
        with pytest.raises(Exception, match="HTTP 503"):
            client.create_dataset(f"e-{unique}")
        assert client.dataset(name=f"e-{unique}") is None


def test_retries_end_with_the_count(served: str) -> None:
    with flaky_proxy(served) as proxy, Client(proxy.url, retry=QUICK) as client:
        for _ in range(4):
            proxy.then(503)
        with pytest.raises(ServerUnavailableError) as gave_up:
            list(client.datasets())
        assert gave_up.value.attempts == 4 and len(proxy.seen) == 4


def test_connection_refused_is_retried_with_backoff() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket closes
    policy = RetryPolicy(attempts=3, base_seconds=0.2, cap_seconds=1)
    with Client(f"http://127.0.0.1:{port}", retry=policy) as client:
        started = time.monotonic()
        with pytest.raises(ServerUnavailableError) as gave_up:
            client.dataset(name="x")
        # equal jitter: at least half of each nominal delay (0.2 s, 0.4 s)
        assert time.monotonic() - started >= 0.1 + 0.2
    assert gave_up.value.attempts == 3 and "ConnectError" in str(gave_up.value)


def test_the_api_key_is_sent_and_401_403_are_not_retried(served: str) -> None:
    with flaky_proxy(served) as proxy, Client(proxy.url, api_key="k-123", retry=QUICK) as client:
        proxy.then(401)
        with pytest.raises(AuthenticationError):
            client.dataset(name="x")
        proxy.then(403)
        with pytest.raises(PermissionDeniedError):
            client.dataset(name="x")
        assert client.dataset(name="x") is None
        assert [seen.authorization for seen in proxy.seen] == ["Bearer k-123"] * 3


def test_wait_falls_back_to_polling_where_websockets_do_not_pass(served: str, unique: str) -> None:
    """The proxy speaks plain HTTP only: the subscription's upgrade fails and the wait polls."""
    with flaky_proxy(served) as proxy, Client(proxy.url, retry=QUICK, poll_seconds=0.05) as client:
        dataset = client.ensure_dataset(f"d-{unique}")
        client.upsert_items(dataset, [{"referenceId": "a"}])
        box = {"x": 0, "y": 0, "width": 10, "height": 10}
        client.upsert_annotations(
            dataset, [{"referenceId": "a", "annotationId": "g", "label": "x", "box": box}]
        )
        run = client.ensure_model_run(client.ensure_model(f"m-{unique}"), dataset, "r")
        client.upsert_predictions(
            run,
            [
                {
                    "referenceId": "a",
                    "annotationId": "p",
                    "label": "x",
                    "confidence": 0.9,
                    "box": box,
                }
            ],
        )
        proxy.seen.clear()
        job = client.evaluate(run).wait(timeout=120)
        assert job.status == "SUCCEEDED"
        assert any(seen.method == "GET" for seen in proxy.seen)  # the upgrade it refused
        assert sum(seen.method == "POST" for seen in proxy.seen) >= 2  # evaluate, then polls
        assert client.metrics(run).per_label[0].true_positives == 1
