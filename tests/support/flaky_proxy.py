"""A real HTTP endpoint that misbehaves on cue in front of a real server: answers 503 or 429,
drops the connection before or after forwarding, then forwards faithfully.

For the client's retry tests: no mock of the client's transport, the database or the server.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

#: What the proxy does with the next request: "forward", "drop-before" (close without
#: forwarding), "drop-after" (forward, then close without answering), or an HTTP status.
Step = str | int


@dataclass
class Seen:
    method: str
    path: str
    authorization: str | None


@dataclass
class FlakyProxy:
    upstream: str
    script: deque[tuple[Step, dict[str, str]]] = field(default_factory=deque)
    seen: list[Seen] = field(default_factory=list)
    url: str = ""

    def then(self, step: Step, **headers: str) -> FlakyProxy:
        """Queue one misbehaviour (headers with ``_`` for ``-``: ``Retry_After="1"``)."""
        self.script.append((step, {k.replace("_", "-"): v for k, v in headers.items()}))
        return self


@contextmanager
def flaky_proxy(upstream: str) -> Iterator[FlakyProxy]:
    proxy = FlakyProxy(upstream)
    http = httpx.Client(timeout=60)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with lock:
                proxy.seen.append(Seen(self.command, self.path, self.headers.get("Authorization")))
                step, headers = proxy.script.popleft() if proxy.script else ("forward", {})
            if step == "drop-before":
                self.close_connection = True
                self.connection.close()
                return
            if isinstance(step, int):
                payload = b'{"errors":[{"message":"try later"}]}'
                self.send_response(step)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            forwarded = {
                name: value
                for name, value in self.headers.items()
                if name.lower() in ("content-type", "authorization")
            }
            answer = http.request(
                self.command, proxy.upstream + self.path, content=body, headers=forwarded
            )
            if step == "drop-after":
                self.close_connection = True
                self.connection.close()
                return
            self.send_response(answer.status_code)
            self.send_header("Content-Type", answer.headers.get("content-type", "application/json"))
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = _handle
        do_POST = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        http.close()
