"""Logging configuration: text or JSON lines with the records' fields, configured once."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from sliceboard.config import Settings
from sliceboard.logs import configure_logging


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_root_logger")
def test_json_lines_carry_the_extra_fields_and_the_exception() -> None:
    stream = io.StringIO()
    configure_logging(Settings(log_format="json", log_level="DEBUG"), stream)
    logger = logging.getLogger("sliceboard.test")
    logger.info("job %s done", 7, extra={"job_id": 7, "duration_seconds": 1.5})
    try:
        raise RuntimeError("disk on fire")
    except RuntimeError:
        logger.exception("job %s failed", 8)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first.keys() == {"time", "level", "logger", "message", "job_id", "duration_seconds"}
    assert (first["level"], first["logger"], first["message"]) == (
        "INFO",
        "sliceboard.test",
        "job 7 done",
    )
    assert (first["job_id"], first["duration_seconds"]) == (7, 1.5)
    assert second["message"] == "job 8 failed"
    assert second["exception"].endswith("RuntimeError: disk on fire")


@pytest.mark.usefixtures("restore_root_logger")
def test_configuring_again_replaces_the_handler_and_honours_the_level() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(Settings(log_format="json"), first)
    configure_logging(Settings(log_format="text", log_level="WARNING"), second)
    logger = logging.getLogger("sliceboard.test")
    logger.info("hidden")
    logger.warning("shown %s", "once")
    assert first.getvalue() == ""
    [line] = second.getvalue().splitlines()
    assert line.endswith(" WARNING sliceboard.test: shown once")
