"""What every resolver sees: the process runtime and this request's DataLoaders.

Loaders are built per request, so their caches never serve one request's rows to another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

from strawberry.types import Info as StrawberryInfo

from sliceboard.runtime import Runtime
from sliceboard.schema.loaders import Loaders


@dataclass
class Context:
    runtime: Runtime
    loaders: Loaders
    request: Any = None
    response: Any = None

    @classmethod
    def create(cls, runtime: Runtime, request: Any = None, response: Any = None) -> Context:
        return cls(
            runtime=runtime, loaders=Loaders.create(runtime), request=request, response=response
        )


Info: TypeAlias = StrawberryInfo[Context, None]
