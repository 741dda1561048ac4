"""``sliceboard serve`` as a child process: a free port, a wait for /healthz with a deadline,
a clean SIGTERM, and GraphQL posted to it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets.sync.client

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    *args: str,
    cwd: Path = ROOT,
    env: Mapping[str, str] | None = None,
    timeout: float = 30,
    **popen: Any,
) -> tuple[subprocess.Popen[bytes], str]:
    """``python -m sliceboard.cli serve --port <free> *args``; (process, base url) once /healthz
    answers 200. A server that exits or misses the deadline is killed and the test fails with
    whatever it printed (when its stdout is a pipe)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sliceboard.cli", "serve", "--port", str(port), *args],
        cwd=cwd,
        env=dict(os.environ if env is None else env),
        **popen,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            output = process.communicate()[0]
            pytest.fail(f"server did not start:\n{output.decode() if output else ''}")
        time.sleep(0.1)


@contextmanager
def serving(database: Path) -> Iterator[str]:
    """A server on a SQLite file for the block; on leaving, SIGTERM and a clean shutdown."""
    process, base = start_server(
        "--database-url",
        f"sqlite+aiosqlite:///{database}",
        env={**os.environ, "SLICEBOARD_JOB_POLL_SECONDS": "0.1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail("server ignored SIGTERM")
        output = process.stdout.read().decode() if process.stdout else ""
        # uvicorn re-raises SIGTERM after its graceful shutdown.
        assert code in (0, -signal.SIGTERM), output
        assert "Application shutdown complete" in output, output
        assert "Traceback" not in output, output


def post(base: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST a GraphQL document; its ``data`` (there must be no errors)."""
    response = httpx.post(
        f"{base}/graphql", json={"query": query, "variables": variables or {}}, timeout=30
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


@contextmanager
def subscription(
    base: str, query: str, variables: dict[str, Any] | None = None
) -> Iterator[websockets.sync.client.ClientConnection]:
    """A graphql-transport-ws connection with one subscription (id "1") sent; read its messages."""
    with websockets.sync.client.connect(
        base.replace("http", "ws") + "/graphql",
        subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
    ) as ws:
        ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        payload = {"query": query, "variables": variables or {}}
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        yield ws
