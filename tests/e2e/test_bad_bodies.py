"""Request bodies the transport cannot read (issue 11 §7): HTTP 400 with a GraphQL error body,
never a 500 with a traceback; checked in-process and against a real ``sliceboard serve``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]

BAD_BODIES = {
    "a JSON string": b'"query"',
    "null": b"null",
    "a number": b"3",
    "invalid UTF-8": b'{"query": "\xff\xfe"}',
    "truncated": b'{"query": ',
    "5,000 levels deep": b'{"query": "{ __typename }", "variables": {"v": '
    + b"[" * 5_000
    + b"]" * 5_000
    + b"}}",
}


def _assert_bad_request(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert "Traceback" not in error["message"]


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
async def test_unreadable_bodies_are_a_json_400(http: httpx.AsyncClient, body: bytes) -> None:
    response = await http.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    _assert_bad_request(response)
    # The server is fine afterwards.
    ok = await http.post("/graphql", json={"query": "{ __typename }"})
    assert ok.json() == {"data": {"__typename": "Query"}}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_a_real_server_logs_no_traceback_for_unreadable_bodies(tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "sliceboard.cli", "serve", "--port", str(port)),
            *("--database-url", f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"),
        ],
        cwd=ROOT,
        env={**os.environ, "SLICEBOARD_RUN_JOBS": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        for body in BAD_BODIES.values():
            response = httpx.post(
                f"{base}/graphql",
                content=body,
                headers={"content-type": "application/json"},
                timeout=30,
            )
            _assert_bad_request(response)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    output = process.stdout.read().decode() if process.stdout else ""
    assert "Application shutdown complete" in output, output
    assert "Traceback" not in output, output
    assert " 500 " not in output, output
