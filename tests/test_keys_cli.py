"""``sliceboard keys``: the secret is printed once and listed never; revoke by name or id;
mistakes end with one line and exit code 2."""

from __future__ import annotations

import pytest

from sliceboard.cli import main
from sliceboard.services.api_keys import KEY_PATTERN


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_create_list_revoke(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    db = ("--database-url", sqlite_url)
    code, out, _ = _run(
        capsys, "keys", "create", "--name", "ci", "--scope", "write", "--expires", "90d", *db
    )
    assert code == 0
    secret = out.strip()
    assert KEY_PATTERN.fullmatch(secret)
    code, listing, _ = _run(capsys, "keys", "list", *db)
    assert code == 0
    assert secret not in listing and secret[16:] not in listing
    row = listing.splitlines()[1].split("\t")
    assert row[1:4] == ["ci", "write", "all"]
    assert row[4] == secret[:16]  # the public start, to match a scanner's report
    assert row[6] != "-" and row[7] == "-"  # expires, not revoked

    assert _run(capsys, "keys", "revoke", "ci", *db)[0] == 0
    revoked = _run(capsys, "keys", "list", *db)[1].splitlines()[1].split("\t")
    assert revoked[7] != "-"
    code, _, err = _run(capsys, "keys", "revoke", "no-such-key", *db)
    assert code == 2 and "not found" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--name", "x", "--scope", "read", "--dataset", "nope"), "no dataset named 'nope'"),
        (("--name", "x", "--scope", "read", "--expires", "soon"), "--expires"),
        (("--name", " ", "--scope", "read"), "must not be empty"),
    ],
)
def test_mistakes_end_with_one_line(
    sqlite_url: str, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    code, out, err = _run(capsys, "keys", "create", *argv, "--database-url", sqlite_url)
    assert code == 2 and out == ""
    lines = [line for line in err.splitlines() if line.startswith("sliceboard:")]
    assert len(lines) == 1 and message in lines[0], err


def test_a_taken_name_is_refused(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    db = ("--database-url", sqlite_url)
    assert _run(capsys, "keys", "create", "--name", "a", "--scope", "read", *db)[0] == 0
    code, _, err = _run(capsys, "keys", "create", "--name", "a", "--scope", "admin", *db)
    assert code == 2 and "already exists" in err


def test_generate_prints_a_key_and_stores_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "keys", "generate")
    assert code == 0 and KEY_PATTERN.fullmatch(out.strip())
    assert out.strip() != _run(capsys, "keys", "generate")[1].strip()
