"""Logging for the commands that run for a while (``serve``, ``worker``, ``migrate``): one
handler on stderr for every logger, as text or as one JSON object per line.

Configured once, by the CLI, from ``SLICEBOARD_LOG_LEVEL`` and ``SLICEBOARD_LOG_FORMAT``;
library code only ever calls ``logging.getLogger(...)``. Fields passed with ``extra=`` (a job's
``job_id``, a request's ``status`` ...) become keys of the JSON object.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

from sliceboard.config import Settings

# Chatter below WARNING that says nothing to an operator (alembic lists its plugins on start).
QUIET_LOGGERS = ("alembic.runtime.plugins",)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the extra fields, and the
    exception text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update((k, v) for k, v in vars(record).items() if k not in _STANDARD)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _Handler(logging.StreamHandler[TextIO]):
    """Ours, so configuring twice replaces it rather than doubling every line."""


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Send every logger's records at ``settings.log_level`` and above to stderr."""
    handler = _Handler(stream or sys.stderr)
    handler.setFormatter(
        JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))
    logging.captureWarnings(True)
