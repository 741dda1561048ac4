"""The auth settings: read from the environment, checked when built, never printed."""

from __future__ import annotations

import pytest

from sliceboard.config import Settings, SettingsError
from sliceboard.services.api_keys import new_key


def test_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    key = new_key()
    monkeypatch.setenv("SLICEBOARD_AUTH", "required")
    monkeypatch.setenv("SLICEBOARD_KEY_SECRET", "s3cret-value")
    monkeypatch.setenv("SLICEBOARD_BOOTSTRAP_ADMIN_KEY", key)
    monkeypatch.setenv("SLICEBOARD_KEY_CACHE_SECONDS", "0")
    settings = Settings.from_env()
    assert (settings.auth, settings.key_secret, settings.bootstrap_admin_key) == (
        "required",
        "s3cret-value",
        key,
    )
    assert settings.key_cache_seconds == 0
    shown = repr(settings)
    assert "s3cret-value" not in shown and key not in shown


def test_production_requires_auth_and_logs_json() -> None:
    settings = Settings(env="production")
    assert settings.production and settings.log_format == "json"
    with pytest.raises(SettingsError) as refused:
        Settings(env="production", auth="off")
    assert refused.value.variable == "SLICEBOARD_AUTH"


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"auth": "maybe"}, "SLICEBOARD_AUTH"),
        ({"env": "staging"}, "SLICEBOARD_ENV"),
        ({"bootstrap_admin_key": "sb_short"}, "SLICEBOARD_BOOTSTRAP_ADMIN_KEY"),
        ({"key_cache_seconds": -1.0}, "SLICEBOARD_KEY_CACHE_SECONDS"),
    ],
)
def test_a_setting_that_cannot_work_is_named(changes: dict[str, object], variable: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings(**changes)  # type: ignore[arg-type]
    assert refused.value.variable == variable
