"""Who is asking: the one place that reads the caller's API key for rate limits, /metrics and
the audit log.

The authentication layer puts a principal (``key_id``, ``name``, ``scope``, ``dataset_ids``) on
``request.state.principal`` (ASGI ``scope["state"]``) and on the GraphQL context as
``context.principal``; without auth there is none. Read duck-typed here, so the auth layer's own
type can be swapped in without touching its readers.
"""

from __future__ import annotations

from typing import Any, Protocol

from sliceboard.config import Settings

ADMIN_SCOPE = "admin"


class Principal(Protocol):
    key_id: int | None
    name: str
    scope: str


def principal_of(holder: Any) -> Principal | None:
    """The principal of an ASGI scope (dict), a starlette Request/WebSocket or a GraphQL context."""
    if holder is None:
        return None
    if isinstance(holder, dict):
        state = holder.get("state")
        found = state.get("principal") if isinstance(state, dict) else None
        return found if _looks_like_principal(found) else None
    found = getattr(holder, "principal", None)
    if _looks_like_principal(found):
        return found  # type: ignore[no-any-return]
    scope = getattr(holder, "scope", None)  # a starlette Request or WebSocket
    if isinstance(scope, dict):
        return principal_of(scope)
    request = getattr(holder, "request", None)  # a GraphQL context without its own principal
    return principal_of(request) if request is not None else None


def _looks_like_principal(value: object) -> bool:
    return value is not None and hasattr(value, "scope") and hasattr(value, "name")


def is_admin(principal: Principal | None) -> bool:
    return principal is not None and principal.scope == ADMIN_SCOPE


def auth_required(settings: Settings) -> bool:
    """Whether requests need a key. The auth layer's setting (``auth``: required | off) when it
    exists; without it, auth is off."""
    return str(getattr(settings, "auth", "off")).lower() == "required"


def client_key(principal: Principal | None, address: str | None) -> str:
    """The rate-limit identity: the key when there is one, else the client's address."""
    if principal is not None:
        return (
            f"key:{principal.key_id}" if principal.key_id is not None else f"key:{principal.name}"
        )
    return f"address:{address or 'unknown'}"


def key_fields(principal: Principal | None) -> tuple[int | None, str | None]:
    """(key id, key name) for the audit log; (None, None) for an anonymous caller."""
    if principal is None:
        return None, None
    return principal.key_id, principal.name
