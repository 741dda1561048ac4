"""The Insights page in Debian's Chromium against a real `sliceboard serve` with an evaluated
run: its numbers equal GraphQL's, the sliders, slice picker, confusion cells and gallery do
what they say, with no console errors, no serious accessibility violations (axe-core), every
control reachable from the keyboard, GraphiQL offline, and screenshots kept as artifacts."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import ARTIFACTS, AXE, chromium_path
from tests.support.insights_run import upload_second_run, upload_served_run
from tests.support.served_runs import evaluate, graphql
from tests.support.serving import start_server

pytestmark = pytest.mark.slow

THRESHOLD = """
query($run: ID!, $slice: ID, $iou: Float!, $conf: Float!) {
  modelRun(id: $run) {
    metrics(sliceId: $slice, iouThreshold: $iou, confidenceThreshold: $conf) {
      coco { ap }
      perLabel { truePositives falsePositives falseNegatives }
      confusionMatrix { labels counts }
    }
  }
}"""


def expected(
    base: str, run: str, *, slice_id: str | None = None, iou: float = 0.5, conf: float = 0.0
) -> dict[str, Any]:
    """GraphQL's AP and its micro-averaged precision and recall (summed counts)."""
    metrics = graphql(base, THRESHOLD, {"run": run, "slice": slice_id, "iou": iou, "conf": conf})[
        "modelRun"
    ]["metrics"]
    tp = sum(row["truePositives"] for row in metrics["perLabel"])
    fp = sum(row["falsePositives"] for row in metrics["perLabel"])
    fn = sum(row["falseNegatives"] for row in metrics["perLabel"])
    return {"ap": metrics["coco"]["ap"], "precision": tp / (tp + fp), "recall": tp / (tp + fn),
            "matrix": metrics["confusionMatrix"]}  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    executable = chromium_path()
    folder = tmp_path_factory.mktemp("insights")
    media = folder / "media"
    media.mkdir()
    log = folder / "server.log"
    with log.open("wb") as out:  # a file, not a pipe: nobody reads a pipe until the end
        process, base = start_server(
            "--database-url", f"sqlite+aiosqlite:///{folder / 'db.sqlite'}", "--media-root", str(media),
            env={**os.environ, "SLICEBOARD_JOB_POLL_SECONDS": "0.1"}, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        ids = upload_served_run(base, media)
        evaluate(base, ids["run"])
        ids["second_run"] = upload_second_run(base, ids["dataset"])
        evaluate(base, ids["second_run"])
        yield {**ids, "base": base, "chromium": executable}
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    output = log.read_text(errors="replace")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "insights-server.log").write_text(output)
    problem = max(output.find("Traceback"), output.find(" ERROR "))
    assert problem < 0, output[max(0, problem - 3000) : problem + 3000]


@pytest.fixture(scope="module")
def browser(served: dict[str, str]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=served["chromium"], args=["--no-sandbox", "--disable-gpu"]
        )
        yield chromium
        chromium.close()


class Page:
    """A tab that records console errors, page errors and requests that leave the host."""

    def __init__(self, browser: Any, base: str) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

        def route(request_route: Any) -> None:
            url = request_route.request.url
            if url.startswith(base) or url.startswith("data:") or url.startswith("ws://127.0.0.1"):
                request_route.continue_()
            else:
                self.outside.append(url)
                request_route.abort()

        self.page.route("**/*", route)

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"insights-{name}.png"), full_page=True)

    def number(self, testid: str) -> float:
        return float(self.page.get_by_test_id(testid).inner_text())

    def wait_number(self, testid: str, value: float, timeout: float = 10.0) -> float:
        """Polls the shown number until it equals ``value`` to its 4 decimals (or the deadline)."""
        deadline = time.monotonic() + timeout
        shown = float("nan")
        while time.monotonic() < deadline:
            text = self.page.get_by_test_id(testid).inner_text()
            if text not in ("", "—"):
                shown = float(text)
                if abs(shown - value) <= 5e-5:
                    return shown
            self.page.wait_for_timeout(20)
        return shown


@pytest.fixture
def tab(browser: Any, served: dict[str, str]) -> Iterator[Page]:
    page = Page(browser, served["base"])
    yield page
    assert page.errors == [], page.errors
    assert page.outside == [], page.outside
    page.page.close()


def open_run(tab: Page, served: dict[str, str], query: str = "") -> None:
    tab.page.goto(f"{served['base']}/runs/{served['run']}{query}")
    tab.page.get_by_test_id("metric-ap").filter(has_not_text="—").wait_for()
    tab.page.get_by_test_id("example").first.wait_for()


def test_the_home_page_lists_the_run(tab: Page, served: dict[str, str]) -> None:
    tab.page.goto(served["base"] + "/")
    tab.page.get_by_role("link", name="val").click()
    tab.page.get_by_test_id("metric-ap").filter(has_not_text="—").wait_for()
    assert tab.page.url.endswith(f"/runs/{served['run']}")
    tab.shot("home-to-run")


def test_numbers_equal_graphql_and_follow_the_iou_slider(tab: Page, served: dict[str, str]) -> None:
    want = expected(served["base"], served["run"])
    open_run(tab, served)
    assert tab.wait_number("metric-ap", want["ap"]) == pytest.approx(want["ap"], abs=5e-5)
    assert tab.wait_number("metric-precision", want["precision"]) == pytest.approx(
        want["precision"], abs=5e-5
    )
    assert tab.wait_number("metric-recall", want["recall"]) == pytest.approx(
        want["recall"], abs=5e-5
    )
    tab.shot("run")

    at_75 = expected(served["base"], served["run"], iou=0.75)
    assert at_75["precision"] != pytest.approx(want["precision"], abs=5e-5)
    slider = tab.page.get_by_test_id("iou-threshold")
    slider.focus()
    for _ in range(5):  # 0.50 -> 0.75 in steps of 0.05, from the keyboard
        tab.page.keyboard.press("ArrowRight")
    assert slider.input_value() == "0.75"
    assert tab.wait_number("metric-precision", at_75["precision"]) == pytest.approx(
        at_75["precision"], abs=5e-5
    )
    assert tab.wait_number("metric-recall", at_75["recall"]) == pytest.approx(
        at_75["recall"], abs=5e-5
    )
    assert "iou=0.75" in tab.page.url
    tab.shot("iou-075")


def test_choosing_a_slice_shows_its_numbers(tab: Page, served: dict[str, str]) -> None:
    whole = expected(served["base"], served["run"])
    part = expected(served["base"], served["run"], slice_id=served["slice"])
    assert part["ap"] != pytest.approx(whole["ap"], abs=5e-5)
    open_run(tab, served)
    tab.page.get_by_test_id("slice-select").select_option(served["slice"])
    assert tab.wait_number("metric-ap", part["ap"]) == pytest.approx(part["ap"], abs=5e-5)
    assert tab.wait_number("metric-precision", part["precision"]) == pytest.approx(
        part["precision"], abs=5e-5
    )
    assert f"slice={served['slice']}" in tab.page.url
    tab.shot("slice")


CELL = """
query($run: ID!, $gt: String, $dt: String!, $after: String) {
  modelRun(id: $run) {
    confusionPredictions(groundTruthLabel: $gt, predictionLabel: $dt, first: 100, after: $after) {
      pageInfo { hasNextPage endCursor } edges { node { id } }
    }
  }
}"""


def cell_ids(base: str, run: str, gt: str | None, dt: str) -> list[str]:
    found: list[str] = []
    after = None
    while True:
        page = graphql(base, CELL, {"run": run, "gt": gt, "dt": dt, "after": after})
        connection = page["modelRun"]["confusionPredictions"]
        found += [edge["node"]["id"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return found
        after = connection["pageInfo"]["endCursor"]


def test_a_confusion_cell_lists_exactly_its_predictions(tab: Page, served: dict[str, str]) -> None:
    matrix = expected(served["base"], served["run"])["matrix"]
    labels = matrix["labels"]
    background = len(labels)
    # the fullest cell of the background row: false positives that overlap nothing
    column = max(range(background), key=lambda c: matrix["counts"][background][c])
    want = cell_ids(served["base"], served["run"], None, labels[column])
    assert len(want) == matrix["counts"][background][column] > 0
    open_run(tab, served)
    cell = tab.page.locator(
        f'[data-testid="confusion-cell"][data-gt-label=""][data-pred-label="{labels[column]}"]'
    )
    cell.focus()
    tab.page.keyboard.press("Enter")
    entries = tab.page.get_by_test_id("cell-entry")
    entries.first.wait_for()
    while tab.page.get_by_role("button", name="More", exact=True).count():
        tab.page.get_by_role("button", name="More", exact=True).click()
        tab.page.wait_for_function(
            "n => document.querySelectorAll('[data-testid=cell-entry]').length > n",
            arg=entries.count(),
        )
    shown = entries.evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert shown == want
    tab.shot("confusion-cell")


ITEMS = """
query($d: ID!, $run: ID!, $ids: [String!]!) {
  dataset(id: $d) { items(filter: {referenceIds: $ids}, first: 100) { edges { node {
    referenceId annotations { id geometry { __typename } } predictions(modelRunId: $run) { id geometry { __typename } }
  } } } }
}"""


def test_the_gallery_draws_one_shape_per_geometry(tab: Page, served: dict[str, str]) -> None:
    open_run(tab, served)
    for outcome in ("fp", "fn", "tp"):
        tab.page.get_by_test_id(f"gallery-{outcome}").click()
        tab.page.wait_for_url(lambda url, o=outcome: (f"outcome={o}" in url) == (o != "fp"))
        tab.page.locator('[data-testid="gallery"][aria-busy="false"]').wait_for()
        examples = tab.page.get_by_test_id("example")
        shown = examples.evaluate_all(
            "nodes => nodes.map(n => [n.dataset.referenceId, n.querySelectorAll('[data-shape]').length,"
            " n.querySelectorAll('.highlighted').length])"
        )
        assert shown, outcome
        items = graphql(
            served["base"],
            ITEMS,
            {"d": served["dataset"], "run": served["run"], "ids": sorted({s[0] for s in shown})},
        )
        geometries = {
            edge["node"]["referenceId"]: sum(1 for a in edge["node"]["annotations"] + edge["node"]["predictions"] if a["geometry"])
            for edge in items["dataset"]["items"]["edges"]
        }  # fmt: skip
        for reference, shapes, highlighted in shown:
            assert shapes == geometries[reference], reference
            assert highlighted >= 1
        # every image came from the media route and loaded
        loaded = tab.page.evaluate(
            "() => Promise.all([...document.querySelectorAll('[data-testid=example] image')].map(i =>"
            " fetch(i.getAttribute('href')).then(r => r.status)))"
        )
        assert set(loaded) == {200}
        tab.shot(f"gallery-{outcome}")


def test_no_serious_accessibility_violations(tab: Page, served: dict[str, str]) -> None:
    for path, ready in (
        ("/", "run-row"),
        (f"/runs/{served['run']}?cell=%5B%22__background__%22%2C%22c3%22%5D", "cell-entry"),
        (f"/runs/{served['run']}/compare?with={served['second_run']}", "delta-row"),
    ):
        tab.page.goto(served["base"] + path)
        tab.page.get_by_test_id(ready).first.wait_for()
        tab.page.get_by_test_id("example").first.wait_for() if ready != "run-row" else None
        tab.page.add_script_tag(path=str(AXE))
        result = tab.page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        serious = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert serious == [], serious


def test_every_control_is_reachable_from_the_keyboard(tab: Page, served: dict[str, str]) -> None:
    open_run(tab, served)
    wanted = {
        "slice-select",
        "iou-threshold",
        "confidence-threshold",
        "label-select",
        "gallery-fp",
        "gallery-fn",
        "gallery-tp",
    }
    reached: set[str] = set()
    cells = 0
    for _ in range(400):
        tab.page.keyboard.press("Tab")
        testid = tab.page.evaluate(
            "() => document.activeElement && document.activeElement.dataset.testid"
        )
        if testid == "confusion-cell":
            cells += 1
        elif testid:
            reached.add(testid)
        if wanted <= reached and cells:
            break
    assert wanted <= reached, wanted - reached
    assert cells > 0
    # a select and the confidence slider work from the keyboard
    tab.page.get_by_test_id("confidence-threshold").focus()
    tab.page.keyboard.press("ArrowRight")
    tab.page.wait_for_url(lambda url: "confidence=0.01" in url)


def test_graphiql_loads_without_a_cdn(tab: Page, served: dict[str, str]) -> None:
    tab.page.goto(served["base"] + "/graphql", wait_until="networkidle")
    tab.page.locator(".graphiql-container .graphiql-editors").first.wait_for()
    tab.shot("graphiql")


def counts_text(base: str, run: str, conf: float) -> str:
    metrics = graphql(base, THRESHOLD, {"run": run, "slice": None, "iou": 0.5, "conf": conf})
    rows = metrics["modelRun"]["metrics"]["perLabel"]
    tp, fp, fn = (
        sum(r[k] for r in rows) for k in ("truePositives", "falsePositives", "falseNegatives")
    )
    return f"{tp:,} / {fp:,} / {fn:,}"


def test_interaction_timings(tab: Page, served: dict[str, str]) -> None:
    """Small-run figures (bench/insights_page.py measures the COCO-scale run): the page
    interactive, and a confidence-slider move until the counts GraphQL gives are shown."""
    steps = [round(0.1 * k, 2) for k in range(1, 9)]
    want = {conf: counts_text(served["base"], served["run"], conf) for conf in steps}
    started = time.perf_counter()
    open_run(tab, served)
    interactive = time.perf_counter() - started
    slider = tab.page.get_by_test_id("confidence-threshold")
    moves = []
    for conf in steps:
        t0 = time.perf_counter()
        slider.fill(str(conf))
        tab.page.wait_for_function(
            "t => document.querySelector('[data-testid=metric-counts]').innerText === t",
            arg=want[conf],
            timeout=10_000,
        )
        moves.append(time.perf_counter() - t0)
    p95 = statistics.quantiles(moves, n=20, method="inclusive")[-1]
    print(f"\ninteractive {interactive * 1000:.0f} ms; slider p95 {p95 * 1000:.0f} ms")
    assert interactive < 10


COMPARE = """
query($runs: [ID!]!) {
  compareRuns(runIds: $runs, resamples: 20) {
    candidates {
      overall { ap { delta } }
      transitions { fixed broken }
      objects(kind: FIXED, first: 100) { totalCount edges { node { groundTruth { id } } } }
      broken: objects(kind: BROKEN, first: 100) { edges { node { groundTruth { id } } } }
    }
  }
}"""


def test_the_comparison_view_shows_graphqls_deltas_and_fixed_objects(
    tab: Page, served: dict[str, str]
) -> None:
    answer = graphql(served["base"], COMPARE, {"runs": [served["run"], served["second_run"]]})
    candidate = answer["compareRuns"]["candidates"][0]
    fixed_ids = sorted(e["node"]["groundTruth"]["id"] for e in candidate["objects"]["edges"])
    # the second run was built to fix and break objects, all fixed ones on one gallery page
    assert candidate["transitions"]["fixed"] > 0 and candidate["transitions"]["broken"] > 0
    assert candidate["objects"]["totalCount"] == len(fixed_ids) == candidate["transitions"]["fixed"]
    assert len(fixed_ids) <= 48

    open_run(tab, served)
    tab.page.get_by_role("link", name="Compare with another run").click()
    tab.page.get_by_test_id("compare-pick").wait_for()
    tab.page.locator(f'[data-testid="compare-run"][value="{served["second_run"]}"]').check()
    shown = tab.page.get_by_test_id("delta-ap")
    shown.wait_for()
    ap = float(shown.inner_text().replace("\u2212", "-"))
    assert abs(ap - candidate["overall"]["ap"]["delta"]) <= 5e-5
    assert f"with={served['second_run']}" in tab.page.url
    assert (
        int(tab.page.get_by_test_id("transition-fixed").inner_text())
        == candidate["transitions"]["fixed"]
    )
    assert (
        int(tab.page.get_by_test_id("transition-broken").inner_text())
        == candidate["transitions"]["broken"]
    )

    gallery = tab.page.get_by_test_id("compared-gallery")
    tab.page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=compared-gallery] [data-testid=example]').length === n",
        arg=len(fixed_ids),
    )
    highlighted = gallery.locator('[data-kind="truth"].highlighted')
    listed = sorted(highlighted.evaluate_all("nodes => nodes.map(n => n.dataset.objectId)"))
    assert listed == fixed_ids
    tab.shot("compare")

    broken_ids = sorted(e["node"]["groundTruth"]["id"] for e in candidate["broken"]["edges"])
    tab.page.get_by_test_id("objects-broken").click()
    tab.page.get_by_test_id("objects-total").filter(has_text=f"{len(broken_ids)} in all").wait_for()
    tab.page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=compared-gallery] [data-testid=example]').length === n",
        arg=len(broken_ids),
    )
    listed = sorted(highlighted.evaluate_all("nodes => nodes.map(n => n.dataset.objectId)"))
    assert listed == broken_ids
    assert "kind=BROKEN" in tab.page.url
