"""Defences for a server that browsers can reach: a Host allow-list and CSRF-safe GET.

    Host        a request whose ``Host`` is not an accepted name gets 400 (a DNS-rebinding page
                reaches us under its own name); accepted: ``Settings.allowed_hosts``, else the
                loopback names when bound to loopback, else any
    GET         a query over GET runs only with a header that a simple cross-site request cannot
                carry (``apollo-require-preflight``, ``x-apollo-operation-name``, or a non-simple
                ``content-type``: Apollo's CSRF rule), so an ``<img src=...>`` fires nothing
    multipart   a POST of a GraphQL multipart request (file uploads) needs the same header: a
                cross-site ``<form enctype="multipart/form-data">`` could send one otherwise

CORS itself (which origins may read answers) is starlette's ``CORSMiddleware`` over
``Settings.cors_origins`` (``cors_middleware``); a WebSocket handshake from another site's page
is refused by strawberry unless its Origin is one of those (schema/http.py). ``/healthz`` is exempt from the Host check, so
probes that address the server by its IP keep working.
"""

from __future__ import annotations

import ipaddress
import json
from urllib.parse import parse_qs

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from sliceboard.config import Settings

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
PREFLIGHT_HEADERS = (b"apollo-require-preflight", b"x-apollo-operation-name")
SIMPLE_CONTENT_TYPES = (
    "",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
)
EXEMPT_PATHS = ("/healthz",)


def accepted_hosts(settings: Settings) -> tuple[str, ...] | None:
    """The Host names served; None: any."""
    if settings.allowed_hosts:
        return tuple(host.lower() for host in settings.allowed_hosts)
    return LOOPBACK_NAMES if is_loopback(settings.host) else None


def cors_middleware(settings: Settings) -> Middleware:
    return Middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["content-type", "authorization", *(h.decode() for h in PREFLIGHT_HEADERS)],
        max_age=600,
    )


class CrossSiteGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.hosts = accepted_hosts(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        headers = {name: value.decode("latin-1") for name, value in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await receive()  # websocket.connect; closing before accepting answers 403
            await send({"type": "websocket.close", "code": 1008, "reason": refusal})
        else:
            body = json.dumps(
                {"errors": [{"message": refusal, "extensions": {"code": "BAD_REQUEST"}}]}
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})

    def _refusal(self, scope: Scope, headers: dict[bytes, str]) -> str | None:
        host = _host_name(headers.get(b"host", ""))
        if self.hosts is not None and host not in self.hosts:
            return f"Host {host!r} is not served here (SLICEBOARD_ALLOWED_HOSTS)."
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and _runs_query(scope)
            and not _preflighted(headers)
        ):
            return (
                "A query over GET needs the header 'apollo-require-preflight: true' (or a JSON "
                "content-type), so that other web pages cannot fire it; or use POST."
            )
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and _is_multipart(headers)
            and not any(headers.get(name, "").strip() for name in PREFLIGHT_HEADERS)
        ):
            return (
                "A multipart (file upload) request needs the header "
                "'apollo-require-preflight: true', so that other web pages cannot send one."
            )
        return None


def _content_type(headers: dict[bytes, str]) -> str:
    return headers.get(b"content-type", "").split(";")[0].strip().lower()


def _runs_query(scope: Scope) -> bool:
    return "query" in parse_qs(scope.get("query_string", b"").decode("latin-1"))


def _preflighted(headers: dict[bytes, str]) -> bool:
    if any(headers.get(name, "").strip() for name in PREFLIGHT_HEADERS):
        return True
    return _content_type(headers) not in SIMPLE_CONTENT_TYPES


def _is_multipart(headers: dict[bytes, str]) -> bool:
    return _content_type(headers) == "multipart/form-data"


def _host_name(host: str) -> str:
    """``example.com:8000`` -> ``example.com``; ``[::1]:8000`` -> ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback(address: str) -> bool:
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
