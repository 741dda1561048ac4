"""File imports and exports end to end: the CLI and the client against a real server on both
backends. COCO ground truth and results imported by the CLI and evaluated give pycocotools' 12
numbers on the same files; every export round-trips; a bad file fails with its issue and
writes nothing.

Runs once the server has ``Mutation.importFile`` (issue 13's server side); skipped before.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.pycoco import pycocotools_stats
from sliceboard.client import Client, JobFailedError
from tests.client.test_client_surface import SDL
from tests.support.cli_runs import sliceboard
from tests.support.coco_cases import TOL, make_case

if "importFile" not in SDL.read_text():
    pytest.skip("the server has no Mutation.importFile yet", allow_module_level=True)

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Imported:
    server: str
    folder: Path
    dataset: str
    model: str
    run: str
    gt: dict[str, Any]
    detections: list[dict[str, Any]]
    stats: np.ndarray
    gt_path: Path
    results_path: Path


def coco_files(folder: Path, seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    case = make_case(seed=seed, n_images=30)
    images = [
        {
            "id": i["id"],
            "width": i["width"],
            "height": i["height"],
            "file_name": f"{i['id']:06d}.jpg",
        }
        for i in case.dataset["images"]
    ]
    gt = {**case.dataset, "images": images}
    (folder / "gt.json").write_text(json.dumps(gt))
    (folder / "results.json").write_text(json.dumps(case.detections))
    return gt, case.detections


def run_ok(*args: str) -> str:
    done = sliceboard(*args)
    assert done.returncode == 0, done
    return done.stdout


@pytest.fixture(scope="module")
def imported(served: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Imported]:
    """The COCO files imported by the CLI and the run evaluated."""
    folder = tmp_path_factory.mktemp("files")
    gt, detections = coco_files(folder, seed=21)
    out = run_ok(
        "import",
        "coco",
        str(folder / "gt.json"),
        "--dataset",
        "coco",
        "--server",
        served,
        "--images-root",
        "s3://bucket/val/",
    )
    assert f"items: {len(gt['images'])} new" in out
    assert f"annotations: {len(gt['annotations'])} new" in out
    out = run_ok(
        "import",
        "coco-results",
        str(folder / "results.json"),
        "--dataset",
        "coco",
        "--model",
        "det",
        "--run",
        "val",
        "--server",
        served,
    )
    assert f"predictions: {len(detections)} new" in out
    with Client(served) as client:
        dataset = client.dataset(name="coco")
        model = client.model(reference_id="det")
        assert dataset is not None and model is not None
        run = client.find_model_run(model, dataset, "val")
        assert run is not None
        client.evaluate(run).wait(timeout=300)
    yield Imported(
        served,
        folder,
        "coco",
        "det",
        "val",
        gt,
        detections,
        pycocotools_stats(gt, detections),
        folder / "gt.json",
        folder / "results.json",
    )


def _report(client: Client, imported: Imported, run_name: str | None = None) -> Any:
    dataset = client.dataset(name=imported.dataset)
    model = client.model(reference_id=imported.model)
    assert dataset is not None and model is not None
    run = client.find_model_run(model, dataset, run_name or imported.run)
    assert run is not None
    return run


def test_cli_imported_coco_evaluates_to_pycocotools_numbers(imported: Imported) -> None:
    with Client(imported.server) as client:
        run = _report(client, imported)
        report = client.metrics(run)
        np.testing.assert_allclose(report.coco.stats, imported.stats, rtol=0, atol=TOL)
        items = {item.reference_id: item for item in client.items(run.dataset_id)}
        first = imported.gt["images"][0]
        item = items[str(first["id"])]
        assert (item.width, item.height) == (first["width"], first["height"])
        assert item.url == f"s3://bucket/val/{first['file_name']}"


def test_reimporting_the_same_file_changes_nothing(imported: Imported) -> None:
    out = run_ok(
        "import",
        "coco",
        str(imported.gt_path),
        "--dataset",
        imported.dataset,
        "--images-root",
        "s3://bucket/val/",
        "--server",
        imported.server,
    )
    assert "items: 0 new, 0 updated" in out and "annotations: 0 new, 0 updated" in out


def test_coco_and_results_exports_give_the_same_numbers(imported: Imported) -> None:
    folder = imported.folder
    run_ok(
        "export",
        "coco",
        str(folder / "gt-out.json"),
        "--dataset",
        imported.dataset,
        "--server",
        imported.server,
    )
    run_ok(
        "export",
        "coco-results",
        str(folder / "results-out.json"),
        "--dataset",
        imported.dataset,
        "--model",
        imported.model,
        "--run",
        imported.run,
        "--server",
        imported.server,
    )
    gt = json.loads((folder / "gt-out.json").read_text())
    results = json.loads((folder / "results-out.json").read_text())
    assert len(results) == len(imported.detections)
    np.testing.assert_allclose(
        pycocotools_stats(imported.gt, results), imported.stats, rtol=0, atol=TOL
    )
    np.testing.assert_allclose(pycocotools_stats(gt, results), imported.stats, rtol=0, atol=TOL)


def test_ndjson_round_trips_through_import(imported: Imported) -> None:
    folder = imported.folder
    dataset_file, run_file = folder / "dataset.ndjson", folder / "run.ndjson"
    run_ok(
        "export",
        "ndjson",
        str(dataset_file),
        "--dataset",
        imported.dataset,
        "--server",
        imported.server,
    )
    run_ok(
        "export",
        "ndjson",
        str(run_file),
        "--dataset",
        imported.dataset,
        "--model",
        imported.model,
        "--run",
        imported.run,
        "--server",
        imported.server,
    )
    run_ok("import", "ndjson", str(dataset_file), "--dataset", "copy", "--server", imported.server)
    run_ok(
        "import",
        "ndjson",
        str(run_file),
        "--dataset",
        "copy",
        "--model",
        imported.model,
        "--run",
        "copied",
        "--server",
        imported.server,
    )
    with Client(imported.server) as client:
        copy = client.dataset(name="copy")
        model = client.model(reference_id=imported.model)
        assert copy is not None and model is not None
        run = client.find_model_run(model, copy, "copied")
        assert run is not None
        client.evaluate(run).wait(timeout=300)
        np.testing.assert_allclose(client.metrics(run).coco.stats, imported.stats, rtol=0, atol=TOL)


def _numbers(value: Any) -> list[float]:
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return [float(value)] if isinstance(value, int | float) and not isinstance(value, bool) else []


def test_metrics_and_matches_exports(imported: Imported) -> None:
    folder = imported.folder
    common = [
        "--dataset",
        imported.dataset,
        "--model",
        imported.model,
        "--run",
        imported.run,
        "--server",
        imported.server,
    ]
    run_ok("export", "metrics", str(folder / "metrics.json"), *common)
    numbers = _numbers(json.loads((folder / "metrics.json").read_text()))
    for stat in imported.stats:
        assert min(abs(n - stat) for n in numbers) <= TOL, stat
    run_ok("export", "metrics", str(folder / "metrics.csv"), *common)
    with (folder / "metrics.csv").open(newline="") as handle:
        assert len(list(csv.reader(handle))) > 1
    rows = len(imported.detections) + len(imported.gt["annotations"])
    run_ok("export", "matches", str(folder / "matches.csv"), *common, "--iou-threshold", "0.5")
    with (folder / "matches.csv").open(newline="") as handle:
        assert len(list(csv.DictReader(handle))) == rows
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")  # the server writes Parquet with its optional pyarrow
    run_ok("export", "matches", str(folder / "matches.parquet"), *common)
    assert len(pandas.read_parquet(folder / "matches.parquet")) == rows


def test_bad_files_fail_with_their_issue_and_write_nothing(served: str, tmp_path: Path) -> None:
    gt, _ = coco_files(tmp_path, seed=3)
    truncated = tmp_path / "truncated.json"
    truncated.write_text((tmp_path / "gt.json").read_text()[:-40])
    unknown = tmp_path / "unknown-image.json"
    bad = json.loads(json.dumps(gt))
    bad["annotations"][-1]["image_id"] = 999_999
    unknown.write_text(json.dumps(bad))
    for path, expected in ((truncated, ("",)), (unknown, ("999999", "image_id"))):
        done = sliceboard(
            "import", "coco", str(path), "--dataset", f"bad-{path.stem}", "--server", served
        )
        assert done.returncode == 1, done
        assert "ended FAILED" in done.stderr
        assert any(text in done.stderr for text in expected), done.stderr
        assert len(done.stderr.splitlines()) >= 2  # the job's issues, one per line
        with Client(served) as client:
            dataset = client.dataset(name=f"bad-{path.stem}")
            assert dataset is not None  # the command created it, the import wrote nothing
            assert list(client.items(dataset)) == []


def test_a_bad_ndjson_line_is_named(imported: Imported, tmp_path: Path) -> None:
    source = imported.folder / "line-source.ndjson"
    run_ok(
        "export", "ndjson", str(source), "--dataset", imported.dataset, "--server", imported.server
    )
    lines = source.read_text().splitlines()
    index = next(k for k, line in enumerate(lines) if '"box"' in line)
    row = json.loads(lines[index])
    row["box"]["width"] = -1
    lines[index] = json.dumps(row)
    broken = tmp_path / "broken.ndjson"
    broken.write_text("\n".join(lines) + "\n")
    with Client(imported.server) as client:
        dataset = client.ensure_dataset("broken")
        with pytest.raises(JobFailedError) as failed:
            client.import_ndjson(broken, dataset)
        assert any(
            f"line {index + 1}" in issue and "width" in issue for issue in failed.value.issues
        )
        assert list(client.items(dataset)) == []


def test_yolo_labels_are_scaled_by_the_items_size(served: str, tmp_path: Path) -> None:
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "img1.txt").write_text("0 0.5 0.5 0.2 0.4\n1 0.25 0.25 0.1 0.1\n")
    (tmp_path / "classes.txt").write_text("cat\ndog\n")
    with Client(served) as client:
        dataset = client.ensure_dataset("yolo")
        client.upsert_items(
            dataset, [{"referenceId": "img1", "url": "img1.jpg", "width": 200, "height": 100}]
        )
        handle = client.import_yolo(tmp_path, dataset)
        assert handle.job.status == "SUCCEEDED"
        boxes = {
            a.label: tuple(a.geometry[k] for k in ("x", "y", "width", "height"))
            for a in client.annotations(dataset)
            if a.geometry is not None
        }
        assert boxes["cat"] == pytest.approx((80.0, 30.0, 40.0, 40.0), abs=1e-9)
        assert boxes["dog"] == pytest.approx((40.0, 20.0, 20.0, 10.0), abs=1e-9)
        (tmp_path / "labels" / "img1.txt").write_text("1 0.5 0.5 0.2 0.4 0.75\n")
        run = client.ensure_model_run(client.ensure_model("yolo-model"), dataset, "r")
        client.import_yolo(tmp_path, dataset, run=run)
        (prediction,) = client.predictions(run)
        assert (prediction.label, prediction.confidence) == ("dog", 0.75)


def test_export_of_a_filtered_slice(imported: Imported) -> None:
    first = imported.gt["images"][0]["id"]
    out = imported.folder / "one.json"
    run_ok(
        "export",
        "coco",
        str(out),
        "--dataset",
        imported.dataset,
        "--filter",
        json.dumps({"referenceIds": [str(first)]}),
        "--server",
        imported.server,
    )
    exported = json.loads(out.read_text())
    assert len(exported["images"]) == 1
    expected = [a for a in imported.gt["annotations"] if a["image_id"] == first]
    assert len(exported["annotations"]) == len(expected)


def test_bars_on_a_terminal_and_none_in_a_pipe(imported: Imported) -> None:
    import fcntl
    import os
    import struct
    import subprocess
    import sys
    import termios

    from tests.client.test_client_surface import _drain

    args = [
        sys.executable,
        "-m",
        "sliceboard.cli",
        "import",
        "coco",
        str(imported.gt_path),
        "--dataset",
        "bars",
        "--server",
        imported.server,
    ]
    piped = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0 and piped.stderr == ""  # no bar characters in logs
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        done = subprocess.run(args, stdout=subprocess.PIPE, stderr=follower, timeout=300)
        assert done.returncode == 0
        drawn = _drain(leader)
    finally:
        os.close(follower)
        os.close(leader)
    assert "upload gt.json" in drawn and "100%" in drawn
