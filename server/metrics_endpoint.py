"""``GET /metrics``: the Prometheus text format, guarded by ``Settings.metrics_access``.

admin   an admin key while auth is required (401 without a key, 403 with another scope);
        anyone while auth is off
open    anyone who can reach the port
off     no route at all (404)
"""

from __future__ import annotations

import logging

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sliceboard.jobs.queue_stats import sample_queue
from sliceboard.principal import is_admin, principal_of
from sliceboard.runtime import Runtime

logger = logging.getLogger(__name__)


def _refusal(status: int, message: str, code: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status, headers=headers)


def metrics_route(runtime: Runtime) -> Route | None:
    access = runtime.settings.metrics_access
    if access == "off":
        return None

    async def metrics(request: Request) -> Response:
        if access == "admin":  # with authentication off every caller is the anonymous admin
            principal = principal_of(request)
            if principal is None:
                return _refusal(401, "/metrics needs an admin API key.", "UNAUTHENTICATED")
            if not is_admin(principal):
                return _refusal(403, "/metrics needs a key with scope admin.", "FORBIDDEN")
        try:
            await sample_queue(runtime)
        except Exception:  # the database being down must not hide every other metric
            logger.warning("/metrics: could not read the job queue", exc_info=True)
        return Response(runtime.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", metrics, methods=["GET"])
