"""Settings, read once from the environment (``SLICEBOARD_*``) so every entry point agrees."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./sliceboard.db"


def normalise_database_url(url: str) -> str:
    """Pick the async driver for plain URLs users copy from elsewhere (``postgres://``, ``sqlite://``)."""
    for prefix, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(prefix):
            return driver + url[len(prefix) :]
    return url


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    max_batch_rows: int = 10_000
    max_body_bytes: int = 64 * 1024 * 1024
    max_page_size: int = 100
    max_query_depth: int = 15
    max_aliases: int = 30
    run_jobs: bool = True
    job_lease_seconds: float = 30.0
    job_poll_seconds: float = 0.5
    job_max_attempts: int = 3
    extra: dict[str, Any] = field(default_factory=dict)
    # What one request may cost (README "Request limits"): objects a document may return,
    # weighted cost of its expensive fields, the bound of each unpaged list, its wall time.
    max_query_nodes: int = 250_000
    max_query_cost: int = 300
    max_list_items: int = 1_000
    request_timeout_seconds: float = 30.0
    shutdown_timeout_seconds: float = 10.0

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=normalise_database_url(
                os.environ.get("SLICEBOARD_DATABASE_URL")
                or os.environ.get("DATABASE_URL")
                or DEFAULT_DATABASE_URL
            ),
            host=os.environ.get("SLICEBOARD_HOST", "127.0.0.1"),
            port=_env_int("SLICEBOARD_PORT", 8000),
            max_batch_rows=_env_int("SLICEBOARD_MAX_BATCH_ROWS", 10_000),
            max_body_bytes=_env_int("SLICEBOARD_MAX_BODY_BYTES", 64 * 1024 * 1024),
            run_jobs=_env_bool("SLICEBOARD_RUN_JOBS", True),
            job_lease_seconds=_env_float("SLICEBOARD_JOB_LEASE_SECONDS", 30.0),
            job_poll_seconds=_env_float("SLICEBOARD_JOB_POLL_SECONDS", 0.5),
            job_max_attempts=_env_int("SLICEBOARD_JOB_MAX_ATTEMPTS", 3),
            max_query_nodes=_env_int("SLICEBOARD_MAX_QUERY_NODES", 250_000),
            max_query_cost=_env_int("SLICEBOARD_MAX_QUERY_COST", 300),
            max_list_items=_env_int("SLICEBOARD_MAX_LIST_ITEMS", 1_000),
            request_timeout_seconds=_env_float("SLICEBOARD_REQUEST_TIMEOUT_SECONDS", 30.0),
            shutdown_timeout_seconds=_env_float("SLICEBOARD_SHUTDOWN_TIMEOUT_SECONDS", 10.0),
        )

    def with_overrides(self, **changes: Any) -> Settings:
        if "database_url" in changes and changes["database_url"] is not None:
            changes["database_url"] = normalise_database_url(changes["database_url"])
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
