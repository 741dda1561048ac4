"""Who is asking: the principal of a request, and the datasets it may see.

Every HTTP request gets one (``request.state.principal``, set by ``sliceboard.auth_gate``), every
GraphQL operation too (``info.context.principal``). The read and write code that turns a client's
id into a row runs deep below the resolvers, so the dataset limit also travels in a context
variable, set per operation by ``schema/permissions.py``: code that runs outside a request (jobs,
the CLI) sees no limit. ``principal_of`` is the one reader for rate limits, /metrics and the
audit log.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

READ, WRITE, ADMIN = "read", "write", "admin"
SCOPES = (READ, WRITE, ADMIN)
_RANK = {READ: 0, WRITE: 1, ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """``key_id`` None: not a stored key (auth off). ``dataset_ids`` None: every dataset."""

    key_id: int | None
    name: str
    scope: str
    dataset_ids: frozenset[int] | None

    def has_scope(self, needed: str) -> bool:
        return _RANK[self.scope] >= _RANK[needed]

    def sees_dataset(self, dataset_id: int | None) -> bool:
        return self.dataset_ids is None or dataset_id in self.dataset_ids


# What every request is when authentication is off: it may do anything, as before keys existed.
ANONYMOUS_ADMIN = Principal(key_id=None, name="anonymous", scope=ADMIN, dataset_ids=None)

_RESTRICTION: ContextVar[frozenset[int] | None] = ContextVar(
    "sliceboard_dataset_restriction", default=None
)


def use_principal(principal: Principal) -> None:
    """Limit the rest of the current task (and the tasks it starts) to what ``principal`` sees."""
    _RESTRICTION.set(principal.dataset_ids)


def dataset_restriction() -> frozenset[int] | None:
    """The datasets the current request may see; None: all of them."""
    return _RESTRICTION.get()


def principal_of(holder: Any) -> Principal | None:
    """The principal of an ASGI scope (dict), a starlette Request/WebSocket or a GraphQL context;
    None where none was set (a path the auth gate does not see)."""
    if holder is None:
        return None
    if isinstance(holder, dict):
        state = holder.get("state")
        found = state.get("principal") if isinstance(state, dict) else None
        return found if isinstance(found, Principal) else None
    found = getattr(holder, "principal", None)
    if isinstance(found, Principal):
        return found
    scope = getattr(holder, "scope", None)  # a starlette Request or WebSocket
    if isinstance(scope, dict):
        return principal_of(scope)
    request = getattr(holder, "request", None)  # a GraphQL context without its own principal
    return principal_of(request) if request is not None else None


def is_admin(principal: Principal | None) -> bool:
    """With authentication off every caller is ``ANONYMOUS_ADMIN``, so this is then always true."""
    return principal is not None and principal.has_scope(ADMIN)


def client_key(principal: Principal | None, address: str | None) -> str:
    """The rate-limit identity: the stored key when there is one, else the client's address (so
    with authentication off each client has its own bucket)."""
    if principal is not None and principal.key_id is not None:
        return f"key:{principal.key_id}"
    return f"address:{address or 'unknown'}"


def key_fields(principal: Principal | None) -> tuple[int | None, str | None]:
    """(key id, key name) for the audit log; (None, None) for an anonymous caller."""
    if principal is None or principal.key_id is None:
        return None, None
    return principal.key_id, principal.name
