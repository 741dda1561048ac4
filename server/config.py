"""Settings, read once from the environment (``SLICEBOARD_*``) so every entry point agrees.

Every setting is checked when :class:`Settings` is built, however it is built (environment,
command line, tests): a value that cannot work raises :class:`SettingsError`, which names the
setting in one line and which the CLI turns into exit code 2 instead of a traceback.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./sliceboard.db"
SUPPORTED_DATABASES = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
AUTH_MODES = ("auto", "required", "off")
ENVIRONMENTS = ("development", "production")
# Settings whose values are secrets: never printed (Settings.__repr__).
SECRET_SETTINGS = ("key_secret", "bootstrap_admin_key")
# A module of the ``otel`` extra: tracing is refused at start-up without it.
OTEL_PROBE = "opentelemetry.instrumentation.starlette"
# Who may read /metrics: admin keys (anyone while auth is off), anyone, or nobody.
METRICS_ACCESS = ("admin", "open", "off")
MAX_PORT = 65_535

# Numbers that must be above zero; every other number must be at least zero.
POSITIVE = frozenset(
    {
        "max_batch_rows",
        "max_body_bytes",
        "max_page_size",
        "max_query_depth",
        "max_aliases",
        "job_lease_seconds",
        "job_poll_seconds",
        "job_max_attempts",
        "max_metadata_depth",
        "max_metadata_bytes",
        "max_filter_path_segments",
        "max_coordinate",
        "max_rotation",
        "max_mask_side",
        "max_mask_pixels",
        "max_query_nodes",
        "max_query_cost",
        "max_list_items",
        "request_timeout_seconds",
        "shutdown_timeout_seconds",
        "max_iou_thresholds",
        "max_detections_limit",
        "max_label_matches",
        "evaluation_memory_mb",
        "max_queued_evaluations_per_run",
        "job_cancel_poll_seconds",
        "rate_limit_burst",
        "rate_limit_max_clients",
        "metrics_max_operations",
        "max_import_bytes",
        "max_export_bytes",
        "export_ttl_seconds",
        "max_import_issues",
        "import_chunk_rows",
        "max_mask_bytes",
        "mask_fetch_timeout_seconds",
        "max_masks_per_batch",
        "max_bootstrap_resamples",
        "max_regression_groups",
        "regression_values_per_field",
    }
)


class SettingsError(ValueError):
    """A setting that cannot work. ``variable`` is the environment variable that sets it."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        self.variable = env_variable(setting)
        self.problem = problem
        super().__init__(f"{self.variable}: {problem}")


def env_variable(setting: str) -> str:
    """The environment variable of a setting: ``port`` -> ``SLICEBOARD_PORT``."""
    return f"SLICEBOARD_{setting.upper()}"


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


def redact_database_url(url: str) -> str:
    """The URL with its password replaced by ``***``: the form to print or log."""
    from sqlalchemy.engine import make_url  # here: ``evaluate-coco`` never loads SQLAlchemy
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _env(setting: str) -> str | None:
    raw = os.environ.get(env_variable(setting))
    return None if raw is None or raw.strip() == "" else raw.strip()


N = TypeVar("N", int, float)


def _env_number(name: str, default: N, parse: Callable[[str], N], expected: str) -> N:
    raw = os.environ.get(name, "").strip()
    if raw == "":
        return default
    try:
        return parse(raw)
    except ValueError:
        raise SettingsError(_setting(name), f"expected {expected}, got {raw!r}") from None


def _env_int(name: str, default: int) -> int:
    return _env_number(name, default, int, "a whole number")


def _env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number")


def default_evaluation_memory_mb() -> int:
    """Half of this machine's memory (at least 1 GB): room for the 10x COCO-val case (its
    estimate is ~10 GB) on the 24 GB reference machine, while a run that would exhaust the
    machine (thousands of IoU thresholds) is still refused before it starts."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 4_096
    return max(1_024, total // (2 * 1024 * 1024))


def _env_list(name: str) -> tuple[str, ...]:
    """A comma-separated list (``a, b``); empty when unset."""
    raw = os.environ.get(name, "")
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(_setting(name), f"expected true or false, got {raw!r}")


def _setting(variable: str) -> str:
    return variable.removeprefix("SLICEBOARD_").lower()


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
    log_level: str = "INFO"
    log_format: str = "text"
    extra: dict[str, Any] = field(default_factory=dict)
    # Input bounds (issue 11 §7), read by sliceboard.input_limits: beyond them, InvalidInput.
    max_metadata_depth: int = 32
    max_metadata_bytes: int = 65_536
    max_filter_path_segments: int = 32
    max_coordinate: float = 1e7
    max_rotation: float = 1_000.0
    max_mask_side: int = 100_000
    max_mask_pixels: int = 2**32 - 1
    # What one request may cost (README "Request limits"): objects a document may return,
    # weighted cost of its expensive fields, the bound of each unpaged list, its wall time.
    max_query_nodes: int = 250_000
    max_query_cost: int = 300
    max_list_items: int = 1_000
    request_timeout_seconds: float = 30.0
    shutdown_timeout_seconds: float = 10.0
    # Evaluation options and jobs (README "Evaluation limits"): beyond the option bounds an
    # InvalidInputError names the option; a job whose estimated memory is over the budget fails
    # before computing; identical requests share a job; a run holds at most so many queued jobs;
    # a running job sees its cancellation within the poll interval.
    max_iou_thresholds: int = 20
    max_detections_limit: int = 10_000
    max_label_matches: int = 1_000
    evaluation_memory_mb: int = field(default_factory=lambda: default_evaluation_memory_mb())
    max_queued_evaluations_per_run: int = 10
    job_cancel_poll_seconds: float = 0.5
    # Memory for browse orders (ModelRun.predictions/falseNegatives): each (evaluation,
    # threshold, outcome, order) is sorted once and kept, with each filter's walk over it.
    browse_cache_mb: int = 256
    # Browsers (README "Browsers and other origins"): origins answered by CORS, Host names
    # accepted (empty: the loopback names when bound to loopback, else any).
    cors_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    # Who may do what (README "API keys"): auth mode (auto: required when keys exist or off
    # on a loopback bind without keys), the profile, the key-hashing secret (empty: generated
    # once into the database), a key to store as admin at start, how long a checked key is
    # trusted before its row is read again (revocation by another process shows after it).
    auth: str = "auto"
    env: str = "development"
    key_secret: str = ""
    bootstrap_admin_key: str = ""
    key_cache_seconds: float = 2.0

    @property
    def production(self) -> bool:
        return self.env == "production"

    # Limits per key (README "Rate limits"): token buckets per API key (per client address
    # without one). Requests: ``rate_limit_per_second`` refill, ``rate_limit_burst`` capacity,
    # 0 per second turns it off; beyond it HTTP 429 with Retry-After. Evaluations: so many
    # ``calculateEvaluationMetrics`` per run and key per hour (0: off), beyond it a
    # RateLimitedError payload. The limiter keeps at most ``rate_limit_max_clients`` buckets.
    rate_limit_per_second: float = 0.0
    rate_limit_burst: int = 100
    evaluations_per_run_per_hour: int = 60
    rate_limit_max_clients: int = 10_000
    # Observability (README "Metrics, traces and the audit log"): who may read /metrics, how
    # many distinct operation names it labels (the rest count as "other"), OpenTelemetry traces.
    metrics_access: str = "admin"
    metrics_max_operations: int = 200
    otel: bool = False
    # Files in and out (README "Imports and exports"): an uploaded import file is streamed to
    # ``files_dir`` under its own size limit (not max_body_bytes); an import stops reading after
    # so many issues and writes in chunks of so many rows (one transaction for the whole file);
    # an export larger than max_export_bytes fails, and its download expires after the TTL.
    # Every replica that runs jobs or serves downloads must see the same files_dir.
    files_dir: str = "./sliceboard-files"
    max_import_bytes: int = 8 * 1024**3
    max_import_issues: int = 100
    import_chunk_rows: int = 20_000
    max_export_bytes: int = 8 * 1024**3
    export_ttl_seconds: float = 24 * 3600.0
    # Semantic masks (README "Semantic segmentation"): the largest PNG read, how long a
    # maskUrl may take to answer, masks per upload batch, and the only folder file:// URLs
    # may name (None: file:// URLs are refused).
    max_mask_bytes: int = 32 * 1024 * 1024
    mask_fetch_timeout_seconds: float = 10.0
    max_masks_per_batch: int = 100
    # Run comparison and intervals (README "Comparing runs"): bootstrap resamples one request
    # may ask for, and the groups (saved slices, then frequent metadata values) the regression
    # finder ranks.
    max_bootstrap_resamples: int = 2_000
    max_regression_groups: int = 50
    regression_values_per_field: int = 5
    # The media root: the only folder semantic masks' file:// URLs may name, and the only
    # files the Insights page serves as item images (/media); unset: none. The built page's
    # folder (unset: the one installed with the package).
    media_root: str | None = None
    web_dir: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "database_url", _checked_database_url(self.database_url))
        object.__setattr__(
            self, "log_level", _checked_choice("log_level", self.log_level.upper(), LOG_LEVELS)
        )
        object.__setattr__(
            self, "log_format", _checked_choice("log_format", self.log_format.lower(), LOG_FORMATS)
        )
        object.__setattr__(self, "auth", _checked_choice("auth", self.auth.lower(), AUTH_MODES))
        object.__setattr__(self, "env", _checked_choice("env", self.env.lower(), ENVIRONMENTS))
        if self.production:
            if self.auth == "off":
                raise SettingsError(
                    "auth", "SLICEBOARD_ENV=production requires authentication; remove --auth off"
                )
            # The production profile logs one JSON object per line.
            object.__setattr__(self, "log_format", "json")
        if self.bootstrap_admin_key and not _BOOTSTRAP_KEY.fullmatch(self.bootstrap_admin_key):
            raise SettingsError(
                "bootstrap_admin_key",
                "expected a key such as `sliceboard keys generate` prints (sb_<12 hex>_<40 "
                "letters and digits>)",
            )
        object.__setattr__(
            self,
            "metrics_access",
            _checked_choice("metrics_access", self.metrics_access.lower(), METRICS_ACCESS),
        )
        if self.otel and not _importable(OTEL_PROBE):
            raise SettingsError(
                "otel", "tracing needs the OpenTelemetry packages: pip install 'sliceboard[otel]'"
            )
        if not self.host.strip():
            raise SettingsError("host", "must not be empty")
        for setting in fields(self):
            value = getattr(self, setting.name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                _check_number(setting.name, value)
        if self.media_root is not None and not os.path.isdir(self.media_root):
            raise SettingsError("media_root", f"not a directory: {self.media_root!r}")
        if self.port > MAX_PORT:
            raise SettingsError("port", f"must be at most {MAX_PORT}, got {self.port}")

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["database_url"] = redact_database_url(self.database_url)
        for name in SECRET_SETTINGS:
            shown[name] = "***" if shown[name] else ""
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

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
            max_page_size=_env_int("SLICEBOARD_MAX_PAGE_SIZE", 100),
            max_query_depth=_env_int("SLICEBOARD_MAX_QUERY_DEPTH", 15),
            max_aliases=_env_int("SLICEBOARD_MAX_ALIASES", 30),
            run_jobs=_env_bool("SLICEBOARD_RUN_JOBS", True),
            job_lease_seconds=_env_float("SLICEBOARD_JOB_LEASE_SECONDS", 30.0),
            job_poll_seconds=_env_float("SLICEBOARD_JOB_POLL_SECONDS", 0.5),
            job_max_attempts=_env_int("SLICEBOARD_JOB_MAX_ATTEMPTS", 3),
            log_level=_env("log_level") or "INFO",
            log_format=_env("log_format") or "text",
            max_metadata_depth=_env_int("SLICEBOARD_MAX_METADATA_DEPTH", 32),
            max_metadata_bytes=_env_int("SLICEBOARD_MAX_METADATA_BYTES", 65_536),
            max_filter_path_segments=_env_int("SLICEBOARD_MAX_FILTER_PATH_SEGMENTS", 32),
            max_coordinate=_env_float("SLICEBOARD_MAX_COORDINATE", 1e7),
            max_rotation=_env_float("SLICEBOARD_MAX_ROTATION", 1_000.0),
            max_mask_side=_env_int("SLICEBOARD_MAX_MASK_SIDE", 100_000),
            max_mask_pixels=_env_int("SLICEBOARD_MAX_MASK_PIXELS", 2**32 - 1),
            max_query_nodes=_env_int("SLICEBOARD_MAX_QUERY_NODES", 250_000),
            max_query_cost=_env_int("SLICEBOARD_MAX_QUERY_COST", 300),
            max_list_items=_env_int("SLICEBOARD_MAX_LIST_ITEMS", 1_000),
            request_timeout_seconds=_env_float("SLICEBOARD_REQUEST_TIMEOUT_SECONDS", 30.0),
            shutdown_timeout_seconds=_env_float("SLICEBOARD_SHUTDOWN_TIMEOUT_SECONDS", 10.0),
            max_iou_thresholds=_env_int("SLICEBOARD_MAX_IOU_THRESHOLDS", 20),
            max_detections_limit=_env_int("SLICEBOARD_MAX_DETECTIONS_LIMIT", 10_000),
            max_label_matches=_env_int("SLICEBOARD_MAX_LABEL_MATCHES", 1_000),
            evaluation_memory_mb=_env_int(
                "SLICEBOARD_EVALUATION_MEMORY_MB", default_evaluation_memory_mb()
            ),
            max_queued_evaluations_per_run=_env_int(
                "SLICEBOARD_MAX_QUEUED_EVALUATIONS_PER_RUN", 10
            ),
            job_cancel_poll_seconds=_env_float("SLICEBOARD_JOB_CANCEL_POLL_SECONDS", 0.5),
            browse_cache_mb=_env_int("SLICEBOARD_BROWSE_CACHE_MB", 256),
            cors_origins=_env_list("SLICEBOARD_CORS_ORIGINS"),
            allowed_hosts=_env_list("SLICEBOARD_ALLOWED_HOSTS"),
            auth=_env("auth") or "auto",
            env=_env("env") or "development",
            key_secret=_env("key_secret") or "",
            bootstrap_admin_key=_env("bootstrap_admin_key") or "",
            key_cache_seconds=_env_float("SLICEBOARD_KEY_CACHE_SECONDS", 2.0),
            rate_limit_per_second=_env_float("SLICEBOARD_RATE_LIMIT_PER_SECOND", 0.0),
            rate_limit_burst=_env_int("SLICEBOARD_RATE_LIMIT_BURST", 100),
            evaluations_per_run_per_hour=_env_int("SLICEBOARD_EVALUATIONS_PER_RUN_PER_HOUR", 60),
            rate_limit_max_clients=_env_int("SLICEBOARD_RATE_LIMIT_MAX_CLIENTS", 10_000),
            metrics_access=_env("metrics_access") or "admin",
            metrics_max_operations=_env_int("SLICEBOARD_METRICS_MAX_OPERATIONS", 200),
            otel=_env_bool(
                "SLICEBOARD_OTEL", bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip())
            ),
            files_dir=_env("files_dir") or "./sliceboard-files",
            max_import_bytes=_env_int("SLICEBOARD_MAX_IMPORT_BYTES", 8 * 1024**3),
            max_import_issues=_env_int("SLICEBOARD_MAX_IMPORT_ISSUES", 100),
            import_chunk_rows=_env_int("SLICEBOARD_IMPORT_CHUNK_ROWS", 20_000),
            max_export_bytes=_env_int("SLICEBOARD_MAX_EXPORT_BYTES", 8 * 1024**3),
            export_ttl_seconds=_env_float("SLICEBOARD_EXPORT_TTL_SECONDS", 24 * 3600.0),
            max_mask_bytes=_env_int("SLICEBOARD_MAX_MASK_BYTES", 32 * 1024 * 1024),
            mask_fetch_timeout_seconds=_env_float("SLICEBOARD_MASK_FETCH_TIMEOUT_SECONDS", 10.0),
            max_masks_per_batch=_env_int("SLICEBOARD_MAX_MASKS_PER_BATCH", 100),
            max_bootstrap_resamples=_env_int("SLICEBOARD_MAX_BOOTSTRAP_RESAMPLES", 2_000),
            max_regression_groups=_env_int("SLICEBOARD_MAX_REGRESSION_GROUPS", 50),
            regression_values_per_field=_env_int("SLICEBOARD_REGRESSION_VALUES_PER_FIELD", 5),
            media_root=_env("media_root"),
            web_dir=_env("web_dir"),
        )

    def with_overrides(self, **changes: Any) -> Settings:
        if "database_url" in changes and changes["database_url"] is not None:
            changes["database_url"] = normalise_database_url(changes["database_url"])
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


# The shape of services/api_keys.KEY_PATTERN (settings import nothing of the services).
_BOOTSTRAP_KEY = re.compile(r"sb_[0-9a-f]{12}_[0-9A-Za-z]{40}")


def _checked_database_url(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    url = normalise_database_url(url)
    shown = redact_database_url(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise SettingsError("database_url", f"not a database URL: {shown!r}") from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if SUPPORTED_DATABASES.get(backend) != driver:
        raise SettingsError(
            "database_url",
            f"unsupported database {parsed.drivername!r} in {shown!r}; use "
            "sqlite+aiosqlite:///path/to/file.db or postgresql+asyncpg://user:password@host/name",
        )
    return url


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def _checked_choice(setting: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise SettingsError(setting, f"expected one of {', '.join(choices)}, got {value!r}")
    return value


def _check_number(setting: str, value: float) -> None:
    if not math.isfinite(value):
        raise SettingsError(setting, f"must be a finite number, got {value!r}")
    if setting in POSITIVE and value <= 0:
        raise SettingsError(setting, f"must be above 0, got {value!r}")
    if value < 0:
        raise SettingsError(setting, f"must not be negative, got {value!r}")
