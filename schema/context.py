"""What every resolver sees: the process runtime, this request's DataLoaders and its principal.

Loaders are built per request, so their caches never serve one request's rows to another.
``principal`` is who the request is (schema/http.py); None only on a WebSocket whose
``connection_init`` has not been accepted yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

from strawberry.types import Info as StrawberryInfo

from sliceboard.principal import ANONYMOUS_ADMIN, Principal
from sliceboard.runtime import Runtime
from sliceboard.schema.loaders import Loaders


@dataclass
class Context:
    runtime: Runtime
    loaders: Loaders
    request: Any = None
    response: Any = None
    principal: Principal | None = ANONYMOUS_ADMIN
    connection_params: dict[str, Any] | None = None

    @classmethod
    def create(
        cls,
        runtime: Runtime,
        request: Any = None,
        response: Any = None,
        principal: Principal | None = ANONYMOUS_ADMIN,
    ) -> Context:
        return cls(
            runtime=runtime,
            loaders=Loaders.create(runtime),
            request=request,
            response=response,
            principal=principal,
        )


Info: TypeAlias = StrawberryInfo[Context, None]
