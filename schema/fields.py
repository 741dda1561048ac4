"""``strawberry.field``/``mutation`` with a description, typed for mypy.

strawberry types the call form ``@strawberry.field(description=...)`` as ``Any``, which strict
mypy rejects as an untyped decorator; these keep the decorated resolver's own signature.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import strawberry

F = TypeVar("F", bound=Callable[..., Any])


def field(*, description: str) -> Callable[[F], F]:
    return cast(Callable[[F], F], strawberry.field(description=description))


def mutation(*, description: str) -> Callable[[F], F]:
    return cast(Callable[[F], F], strawberry.mutation(description=description))
