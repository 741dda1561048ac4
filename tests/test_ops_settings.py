"""The settings of rate limits, /metrics and tracing: read from the environment, refused when
they cannot work."""

from __future__ import annotations

import pytest

from sliceboard.config import Settings, SettingsError


@pytest.mark.parametrize(
    ("changes", "variable", "problem"),
    [
        ({"metrics_access": "public"}, "SLICEBOARD_METRICS_ACCESS", "expected one of admin, open, off, got 'public'"),
        ({"rate_limit_per_second": -1.0}, "SLICEBOARD_RATE_LIMIT_PER_SECOND", "must not be negative, got -1.0"),
        ({"rate_limit_burst": 0}, "SLICEBOARD_RATE_LIMIT_BURST", "must be above 0, got 0"),
        ({"rate_limit_max_clients": 0}, "SLICEBOARD_RATE_LIMIT_MAX_CLIENTS", "must be above 0, got 0"),
        ({"evaluations_per_run_per_hour": -2}, "SLICEBOARD_EVALUATIONS_PER_RUN_PER_HOUR", "must not be negative, got -2"),
        ({"metrics_max_operations": 0}, "SLICEBOARD_METRICS_MAX_OPERATIONS", "must be above 0, got 0"),
    ],
)  # fmt: skip
def test_a_value_that_cannot_work_is_refused(
    changes: dict[str, object], variable: str, problem: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings(**changes)  # type: ignore[arg-type]
    assert (refused.value.variable, refused.value.problem) == (variable, problem)


def test_defaults() -> None:
    settings = Settings()
    assert settings.rate_limit_per_second == 0.0  # requests: off until configured
    assert settings.evaluations_per_run_per_hour == 60
    assert settings.metrics_access == "admin"
    assert settings.otel is False


def test_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLICEBOARD_RATE_LIMIT_PER_SECOND", "2.5")
    monkeypatch.setenv("SLICEBOARD_RATE_LIMIT_BURST", "10")
    monkeypatch.setenv("SLICEBOARD_EVALUATIONS_PER_RUN_PER_HOUR", "0")
    monkeypatch.setenv("SLICEBOARD_RATE_LIMIT_MAX_CLIENTS", "500")
    monkeypatch.setenv("SLICEBOARD_METRICS_ACCESS", "OPEN")
    monkeypatch.setenv("SLICEBOARD_METRICS_MAX_OPERATIONS", "50")
    settings = Settings.from_env()
    assert (
        settings.rate_limit_per_second,
        settings.rate_limit_burst,
        settings.evaluations_per_run_per_hour,
        settings.rate_limit_max_clients,
        settings.metrics_access,
        settings.metrics_max_operations,
    ) == (2.5, 10, 0, 500, "open", 50)
    monkeypatch.setenv("SLICEBOARD_RATE_LIMIT_BURST", "lots")
    with pytest.raises(SettingsError, match=r"^SLICEBOARD_RATE_LIMIT_BURST: expected a whole"):
        Settings.from_env()


def test_tracing_without_its_packages_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sliceboard.config.OTEL_PROBE", "opentelemetry_not_installed.starlette")
    with pytest.raises(
        SettingsError, match=r"^SLICEBOARD_OTEL: tracing needs .*sliceboard\[otel\]"
    ):
        Settings(otel=True)
    assert Settings(otel=False).otel is False
