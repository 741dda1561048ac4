"""The same numbers whatever the upload order (issue 11 §9).

Equal confidences in different items rank by referenceId (numerically when every referenceId
is an integer), as pycocotools ranks them by sorted image id; inside an item by upload order.
A run uploaded with its images shuffled and cut into batches anywhere gives bit-identical COCO
numbers, equal to pycocotools on the same files, for the whole run and for a slice.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sliceboard.config import Settings
from sliceboard.evaluation import coco_summary
from sliceboard.runtime import Runtime
from sliceboard.services.evaluation.item_order import tie_order
from sliceboard.services.evaluation.lifecycle import compute_snapshot
from sliceboard.services.evaluation.options import EvaluationOptions
from sliceboard.services.evaluation.snapshot import Snapshot
from sliceboard.storage.db import read_session
from sliceboard.storage.evaluation_data import load_run_data
from sliceboard.storage.tables import Item, ModelRun, core
from tests.support.coco_cases import CocoCase, case_stats
from tests.support.upload_order import case_rows, tied_case, upload_rows

TOL = 1e-12
ITEM = core(Item)


def test_integer_reference_ids_order_by_number_and_equal_numbers_by_text() -> None:
    refs = ["10", "9", "-3", "007", "7", "123456789012345678901234567890", "0"]
    ordered = [refs[i] for i in tie_order(refs)]
    assert ordered == ["-3", "0", "007", "7", "9", "10", "123456789012345678901234567890"]


def test_other_reference_ids_order_by_code_point() -> None:
    refs = ["b", "10", "9", "B", "é", "a-2", "a-10"]
    ordered = [refs[i] for i in tie_order(refs)]
    assert ordered == ["10", "9", "B", "a-10", "a-2", "b", "é"]


def test_no_reference_ids_give_an_empty_order() -> None:
    assert tie_order([]).shape == (0,)


@dataclass(frozen=True)
class Numbers:
    """A run's COCO numbers: its stats, the stats of a slice, its precision array."""

    stats: np.ndarray
    slice_stats: np.ndarray
    precision: np.ndarray

    def assert_bit_identical(self, other: Numbers) -> None:
        np.testing.assert_array_equal(self.stats, other.stats)
        np.testing.assert_array_equal(self.slice_stats, other.slice_stats)
        np.testing.assert_array_equal(self.precision, other.precision)


async def coco_numbers(runtime: Runtime, run_id: str, even_refs: set[str]) -> Numbers:
    """The numbers of a run, its slice the items whose referenceId is in ``even_refs``."""
    async with read_session(runtime.sessions) as session:
        run = await session.get(ModelRun, int(run_id))
        assert run is not None
        data = await load_run_data(session=session, run=run)
        even_ids = (
            await session.scalars(
                sa.select(ITEM.c.id).where(
                    ITEM.c.dataset_id == run.dataset_id, ITEM.c.reference_id.in_(even_refs)
                )
            )
        ).all()
    snapshot = Snapshot.from_bytes(compute_snapshot(data, EvaluationOptions())[0])
    mask = np.isin(snapshot.item_ids, even_ids)
    whole = coco_summary(snapshot.table)
    return Numbers(whole.stats, coco_summary(snapshot.table, mask).stats, whole.precision)


def even_images(case: CocoCase) -> tuple[list[int], set[str]]:
    images = [i for i in case.dataset["images"] if i["id"] % 2 == 0]
    return [i["id"] for i in images], {i["key"] for i in images}


async def test_a_shuffled_upload_in_batches_equals_pycocotools(runtime: Runtime) -> None:
    case = tied_case(seed=5, n_images=40)
    rng = np.random.default_rng(11)
    order = [int(i) for i in rng.permutation([i["id"] for i in case.dataset["images"]])]
    _, run_id = await upload_rows(
        runtime, case_rows(case, order), name="shuffled",
        item_cuts=[7, 19], annotation_cuts=[50, 51, 120], prediction_cuts=[3, 200, 333],
    )  # fmt: skip
    even_ids, even_refs = even_images(case)
    numbers = await coco_numbers(runtime, run_id, even_refs)
    np.testing.assert_allclose(numbers.stats, case_stats(case), rtol=0, atol=TOL)
    np.testing.assert_allclose(numbers.slice_stats, case_stats(case, even_ids), rtol=0, atol=TOL)


@pytest.fixture
async def sqlite_runtime(sqlite_url: str) -> AsyncIterator[Runtime]:
    runtime = Runtime.create(Settings(database_url=sqlite_url, run_jobs=False))
    yield runtime
    await runtime.close()


CASE = tied_case(seed=8, n_images=12)
IMAGE_IDS = sorted(i["id"] for i in CASE.dataset["images"])
EVEN_REFS = even_images(CASE)[1]


class ByIdUpload:
    """A runtime and the numbers of CASE uploaded there with its images by id, each kind in
    one batch. Not a dataclass: hypothesis would print the runtime's 40 kB repr."""

    def __init__(self, runtime: Runtime, numbers: Numbers) -> None:
        self.runtime = runtime
        self.numbers = numbers

    def __repr__(self) -> str:
        return "ByIdUpload()"


@pytest.fixture
async def by_id(sqlite_runtime: Runtime) -> ByIdUpload:
    _, run_id = await upload_rows(sqlite_runtime, case_rows(CASE, IMAGE_IDS), name="by-id")
    numbers = await coco_numbers(sqlite_runtime, run_id, EVEN_REFS)
    np.testing.assert_allclose(numbers.stats, case_stats(CASE), rtol=0, atol=TOL)
    return ByIdUpload(sqlite_runtime, numbers)


cuts = st.lists(st.integers(min_value=0, max_value=400), max_size=4)


@settings(
    max_examples=20,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # each example is a whole upload
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(order=st.permutations(IMAGE_IDS), item_cuts=cuts, annotation_cuts=cuts, prediction_cuts=cuts)
async def test_any_item_order_and_batches_give_bit_identical_numbers(
    by_id: ByIdUpload,
    order: list[int],
    item_cuts: list[int],
    annotation_cuts: list[int],
    prediction_cuts: list[int],
) -> None:
    _, run_id = await upload_rows(
        by_id.runtime, case_rows(CASE, order), name=f"permuted-{uuid.uuid4().hex}",
        item_cuts=item_cuts, annotation_cuts=annotation_cuts, prediction_cuts=prediction_cuts,
    )  # fmt: skip
    numbers = await coco_numbers(by_id.runtime, run_id, EVEN_REFS)
    numbers.assert_bit_identical(by_id.numbers)
