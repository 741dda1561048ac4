"""A bad setting ends a command with one line naming it and exit code 2, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sliceboard.cli import main


@pytest.mark.parametrize(
    ("env", "argv", "line"),
    [
        ({"SLICEBOARD_PORT": "abc"}, ["serve"], "sliceboard: invalid setting SLICEBOARD_PORT / --port: expected a whole number, got 'abc'"),
        ({}, ["serve", "--port", "70000"], "sliceboard: invalid setting SLICEBOARD_PORT / --port: must be at most 65535, got 70000"),
        ({"SLICEBOARD_MAX_BATCH_ROWS": "-5"}, ["worker"], "sliceboard: invalid setting SLICEBOARD_MAX_BATCH_ROWS: must be above 0, got -5"),
        ({"SLICEBOARD_LOG_FORMAT": "yaml"}, ["migrate"], "sliceboard: invalid setting SLICEBOARD_LOG_FORMAT: expected one of text, json, got 'yaml'"),
        (
            {},
            ["migrate", "--database-url", "mysql://root:hunter2@db/evals"],
            "sliceboard: invalid setting SLICEBOARD_DATABASE_URL / --database-url: unsupported database "
            "'mysql' in 'mysql://root:***@db/evals'; use sqlite+aiosqlite:///path/to/file.db or "
            "postgresql+asyncpg://user:password@host/name",
        ),
    ],
)  # fmt: skip
def test_a_bad_setting_is_one_line_and_exit_code_2(
    env: dict[str, str],
    argv: list[str],
    line: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", line + "\n")


def test_the_console_script_prints_no_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sliceboard.cli", "serve"],
        env={**os.environ, "SLICEBOARD_PORT": "abc"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "sliceboard: invalid setting SLICEBOARD_PORT / --port: expected a whole number, got 'abc'"
    ]


@pytest.mark.parametrize(
    ("command", "url", "reason"),
    [
        ("migrate", "postgresql://postgres:s3cret@127.0.0.1:1/x", "ConnectionRefusedError"),
        ("worker", "postgresql://postgres:s3cret@127.0.0.1:1/x", "ConnectionRefusedError"),
        ("migrate", "sqlite:////nonexistent-folder/x.db", "unable to open database file"),
    ],
)
def test_an_unusable_database_is_one_line_and_exit_code_2(
    command: str, url: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--database-url", url]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("sliceboard: cannot use the database ")
    assert reason in lines[0] and "s3cret" not in lines[0]
