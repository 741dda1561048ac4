"""Who is asking: the principal of a request, and the datasets it may see.

Every HTTP request gets one (``request.state.principal``, set by ``sliceboard.auth_gate``), every
GraphQL operation too (``info.context.principal``). The read and write code that turns a client's
id into a row runs deep below the resolvers, so the dataset limit also travels in a context
variable, set per operation by ``schema/permissions.py``: code that runs outside a request (jobs,
the CLI) sees no limit.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

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
