"""Uploads far over the server's per-request limits: the client learns the row limit from the
server's refusal and halves bodies refused with 413, and every row lands exactly once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sliceboard.client import Client, RequestTooLargeError
from tests.support.client_servers import server_on

pytestmark = pytest.mark.slow

MAX_ROWS = 25
MAX_BODY = 12_000


@pytest.fixture(scope="module")
def tight(backend_url: str) -> Iterator[str]:
    """A server that takes at most 25 rows and 12,000 bytes per request."""
    with server_on(backend_url, max_batch_rows=str(MAX_ROWS), max_body_bytes=str(MAX_BODY)) as base:
        yield base


def test_rows_over_the_server_limit_are_cut_at_the_limit_it_names(tight: str, unique: str) -> None:
    with Client(tight) as client:  # starts from the default 10,000 rows per batch
        dataset = client.ensure_dataset(f"d-{unique}")
        rows = [{"referenceId": f"i{k:03d}", "width": 640, "height": 480} for k in range(110)]
        result = client.upsert_items(dataset, rows)
        assert (result.new, result.updated, result.ignored) == (110, 0, 0)
        assert client.aio.limits.rows == MAX_ROWS
        assert [i.reference_id for i in client.items(dataset)] == [r["referenceId"] for r in rows]
        again = client.upsert_items(dataset, rows)
        assert (again.new, again.updated, again.ignored) == (0, 0, 110)


def test_bodies_over_the_server_limit_are_halved(tight: str, unique: str) -> None:
    with Client(tight) as client:
        dataset = client.ensure_dataset(f"d-{unique}")
        # ~1 kB of metadata per row: 20 rows (under the row limit) are ~20 kB, over 12,000 bytes
        rows = [
            {"referenceId": f"i{k:02d}", "metadata": {"note": f"{k}" + "x" * 1000}}
            for k in range(20)
        ]
        assert client.upsert_items(dataset, rows).new == 20
        assert client.aio.limits.body_bytes < MAX_BODY
        read = list(client.items(dataset))
        assert [i.metadata for i in read] == [r["metadata"] for r in rows]

        annotations = [
            {
                "referenceId": f"i{k % 20:02d}",
                "annotationId": f"a{k}",
                "label": "car",
                "box": {"x": k, "y": 1, "width": 5, "height": 5},
            }
            for k in range(60)
        ]
        assert client.upsert_annotations(dataset, annotations).new == 60
        run = client.ensure_model_run(client.ensure_model(f"m-{unique}"), dataset, "r")
        predictions = [{**a, "confidence": 0.5} for a in annotations]
        assert client.upsert_predictions(run, predictions).new == 60
        assert len(list(client.predictions(run))) == 60


def test_a_single_row_over_the_body_limit_is_refused(tight: str, unique: str) -> None:
    with Client(tight) as client:
        dataset = client.ensure_dataset(f"d-{unique}")
        with pytest.raises(RequestTooLargeError):
            client.upsert_items(dataset, [{"referenceId": "big", "metadata": {"x": "y" * 20_000}}])
        assert list(client.items(dataset)) == []
