"""Every HTTP request is logged when it ends: method, path, status and duration, including
the answers of the middleware inside (413 from the body limit)."""

from __future__ import annotations

import logging

import httpx
import pytest


def _requests(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "sliceboard.http"]


async def test_requests_are_logged_with_status_and_duration(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sliceboard.http")
    assert (await http.post("/graphql", json={"query": "{ __typename }"})).status_code == 200
    assert (await http.post("/graphql", content=b"x" * (300 * 1024))).status_code == 413
    assert (await http.get("/healthz")).status_code == 200
    answered, refused, health = _requests(caplog)
    assert [(r.method, r.path, r.status, r.levelno) for r in (answered, refused, health)] == [  # type: ignore[attr-defined]
        ("POST", "/graphql", 200, logging.INFO),
        ("POST", "/graphql", 413, logging.INFO),
        ("GET", "/healthz", 200, logging.DEBUG),
    ]
    assert answered.duration_ms > 0  # type: ignore[attr-defined]
    assert answered.getMessage().startswith("POST /graphql 200 ")
