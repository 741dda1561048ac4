"""``sliceboard import`` / ``export`` as processes: the server from --server or SLICEBOARD_URL,
one line and exit code 1 for what the server refuses, 2 for a command line that cannot work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sliceboard.client import Client
from tests.client.test_client_surface import SDL
from tests.support.cli_runs import sliceboard

pytestmark = pytest.mark.slow


@pytest.mark.skipif("importFile" in SDL.read_text(), reason="this server has file imports")
def test_import_against_a_server_without_file_imports_creates_nothing(
    served: str, unique: str, tmp_path: Path
) -> None:
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    done = sliceboard(
        "import", "coco", str(gt), "--dataset", f"d-{unique}", env={"SLICEBOARD_URL": served}
    )
    assert done.returncode == 1, done
    assert "no Mutation.importFile" in done.stderr and done.stdout == ""
    with Client(served) as client:
        assert client.dataset(name=f"d-{unique}") is None


def test_export_of_a_missing_dataset_says_so(served: str, unique: str, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    done = sliceboard("export", "coco", str(out), "--dataset", f"none-{unique}", "--server", served)
    assert done.returncode == 1
    assert (
        f"no dataset named 'none-{unique}'" in done.stderr
        or "no Mutation.exportFile" in done.stderr
    )
    assert not out.exists()


def test_command_lines_that_cannot_work_exit_2(tmp_path: Path) -> None:
    done = sliceboard("import", "ndjson", "x.ndjson", "--dataset", "d", "--model", "m")
    assert done.returncode == 2 and "--model and --run go together" in done.stderr
    done = sliceboard("import", "coco-results", "r.json", "--dataset", "d")
    assert done.returncode == 2 and "--model, --run" in done.stderr
    done = sliceboard(
        "export", "metrics", "--dataset", "d", "--model", "m", "--run", "r", "o", "--filter", "{"
    )
    assert done.returncode == 2 and "--filter is not JSON" in done.stderr


def test_an_unreachable_server_is_one_line(tmp_path: Path) -> None:
    done = sliceboard(
        "export",
        "coco",
        str(tmp_path / "o.json"),
        "--dataset",
        "d",
        "--server",
        "http://127.0.0.1:9",
        env={"SLICEBOARD_API_KEY": "secret-key"},
    )
    assert done.returncode == 1
    assert "gave up after 5 attempts" in done.stderr and "Traceback" not in done.stderr
    assert "secret-key" not in done.stderr
