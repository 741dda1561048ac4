"""Settings are checked when built, however they are built, and never show a password."""

from __future__ import annotations

import pytest

from sliceboard.config import Settings, SettingsError, redact_database_url


@pytest.mark.parametrize(
    ("changes", "variable", "problem"),
    [
        ({"port": -1}, "SLICEBOARD_PORT", "must not be negative, got -1"),
        ({"port": 65_536}, "SLICEBOARD_PORT", "must be at most 65535, got 65536"),
        ({"max_batch_rows": 0}, "SLICEBOARD_MAX_BATCH_ROWS", "must be above 0, got 0"),
        ({"job_poll_seconds": float("inf")}, "SLICEBOARD_JOB_POLL_SECONDS", "must be a finite number, got inf"),
        ({"log_format": "xml"}, "SLICEBOARD_LOG_FORMAT", "expected one of text, json, got 'xml'"),
        ({"log_level": "loud"}, "SLICEBOARD_LOG_LEVEL", "expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD'"),
        ({"host": " "}, "SLICEBOARD_HOST", "must not be empty"),
        ({"database_url": "not a url"}, "SLICEBOARD_DATABASE_URL", "not a database URL: 'not a url'"),
    ],
)  # fmt: skip
def test_a_value_that_cannot_work_is_refused(
    changes: dict[str, object], variable: str, problem: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings(**changes)  # type: ignore[arg-type]
    assert (refused.value.variable, refused.value.problem) == (variable, problem)
    with pytest.raises(SettingsError):
        Settings().with_overrides(**changes)


def test_an_unsupported_database_is_refused_without_its_password() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings(database_url="mysql://root:hunter2@db/evals")
    assert refused.value.variable == "SLICEBOARD_DATABASE_URL"
    assert "'mysql://root:***@db/evals'" in refused.value.problem
    assert "hunter2" not in str(refused.value)


def test_environment_values_are_parsed_or_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLICEBOARD_PORT", "abc")
    with pytest.raises(
        SettingsError, match=r"^SLICEBOARD_PORT: expected a whole number, got 'abc'$"
    ):
        Settings.from_env()
    monkeypatch.setenv("SLICEBOARD_PORT", "9000")
    monkeypatch.setenv("SLICEBOARD_RUN_JOBS", "maybe")
    with pytest.raises(SettingsError, match=r"^SLICEBOARD_RUN_JOBS: expected true or false"):
        Settings.from_env()
    monkeypatch.setenv("SLICEBOARD_RUN_JOBS", "off")
    monkeypatch.setenv("SLICEBOARD_JOB_LEASE_SECONDS", "soon")
    with pytest.raises(SettingsError, match=r"^SLICEBOARD_JOB_LEASE_SECONDS: expected a number"):
        Settings.from_env()
    monkeypatch.setenv("SLICEBOARD_JOB_LEASE_SECONDS", "12.5")
    monkeypatch.setenv("SLICEBOARD_MAX_PAGE_SIZE", "-4")
    with pytest.raises(SettingsError, match=r"^SLICEBOARD_MAX_PAGE_SIZE: must be above 0, got -4$"):
        Settings.from_env()
    monkeypatch.setenv("SLICEBOARD_MAX_PAGE_SIZE", "50")
    monkeypatch.setenv("SLICEBOARD_LOG_FORMAT", "JSON")
    monkeypatch.setenv("SLICEBOARD_LOG_LEVEL", "debug")
    monkeypatch.setenv("SLICEBOARD_DATABASE_URL", "postgres://u:pw@db/evals")
    settings = Settings.from_env()
    assert (
        settings.port,
        settings.run_jobs,
        settings.job_lease_seconds,
        settings.max_page_size,
    ) == (
        9000,
        False,
        12.5,
        50,
    )
    assert (settings.log_format, settings.log_level) == ("json", "DEBUG")
    assert settings.database_url == "postgresql+asyncpg://u:pw@db/evals"


def test_the_password_is_hidden_wherever_settings_are_shown() -> None:
    settings = Settings(database_url="postgresql://u:pa%40ss@db:5432/evals")
    assert "pa%40ss" not in repr(settings) and "pa@ss" not in repr(settings)
    assert "postgresql+asyncpg://u:***@db:5432/evals" in repr(settings)
    assert redact_database_url("sqlite+aiosqlite:///./x.db") == "sqlite+aiosqlite:///./x.db"
    assert (
        redact_database_url("weird://u:secret@host:notaport/x") == "weird://u:***@host:notaport/x"
    )
