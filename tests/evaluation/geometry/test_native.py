"""The compiled kernels (``_native.c``) against the numpy paths and pycocotools, to the bit.

Every result is computed twice, once with the C kernels on and once with them
off (``_both``), and the two must be identical: same dtype, same bytes, same
error type and message. Where pycocotools defines the value it must agree too.
A spy around the C module checks that the "on" run really went through C (or,
for coordinates beyond its range, really fell back to numpy).

The module is skipped when the extension is not built, unless
``SLICEBOARD_REQUIRE_NATIVE=1`` (CI), where a missing extension fails loudly.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any, TypeVar

import numpy as np
import pycocotools.mask as coco_mask
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.typing import NDArray

from sliceboard.evaluation.geometry import kernel as kernel_module
from sliceboard.evaluation.geometry import native
from sliceboard.evaluation.geometry.rle import RleBatch
from sliceboard.evaluation.geometry.rle_codec import decode_strings_uint32, encode_counts
from sliceboard.evaluation.geometry.rle_iou import rle_iou, rle_similarity
from sliceboard.evaluation.geometry.rle_polygon import (
    rasterize_polygons,
    rle_from_boxes,
    rle_from_polygons,
)
from sliceboard.evaluation.geometry.rle_strings import RleStrings


def _extension_built() -> bool:
    before = native.set_enabled(True)
    try:
        return native.enabled()
    finally:
        native.set_enabled(before)


if not _extension_built():
    _WHY = (
        "the C kernels server/evaluation/geometry/_native.c are not available "
        "(not built, or SLICEBOARD_NATIVE=0)"
    )
    if os.environ.get("SLICEBOARD_REQUIRE_NATIVE") == "1":
        pytest.fail(
            f"SLICEBOARD_REQUIRE_NATIVE=1 but {_WHY}; build them with `pip install -e .`",
            pytrace=False,
        )
    pytest.skip(_WHY, allow_module_level=True)


T = TypeVar("T")


# ---------------------------------------------------------------- on/off harness


class _Spy(ModuleType):
    """Stands in for the C module and records what each kernel returned."""

    def __init__(self, module: ModuleType) -> None:
        super().__init__("_native_spy")
        self._wrapped = module
        self.returned: dict[str, list[Any]] = defaultdict(list)

    def __getattr__(self, name: str) -> Any:
        function = getattr(self._wrapped, name)

        def call(*args: Any) -> Any:
            result = function(*args)
            self.returned[name].append(result)
            return result

        return call


@contextmanager
def _kernels(on: bool) -> Iterator[_Spy | None]:
    """C kernels on (yielding a spy on them) or off; the previous state comes back after."""
    before = native.set_enabled(on)
    try:
        if on:
            module = native._module
            assert module is not None
            spy = _Spy(module)
            native._module = spy
            yield spy
        else:
            assert not native.enabled()
            yield None
    finally:
        native.set_enabled(before)


def _both(compute: Callable[[], T]) -> tuple[T, T, _Spy]:
    """``compute()`` with the C kernels on, then off; plus the spy of the "on" run."""
    with _kernels(True) as spy:
        fast = compute()
    with _kernels(False):
        slow = compute()
    assert spy is not None
    return fast, slow, spy


def _outcome(compute: Callable[[], T]) -> Callable[[], T | tuple[str, str]]:
    """``compute`` with an exception turned into (type name, message), to compare errors."""

    def run() -> T | tuple[str, str]:
        try:
            return compute()
        except (ValueError, TypeError) as err:
            return type(err).__name__, str(err)

    return run


def _raised(outcome: object) -> bool:
    """Whether an ``_outcome`` result is an error (type name, message)."""
    return isinstance(outcome, tuple) and len(outcome) == 2 and isinstance(outcome[0], str)


def _same_array(a: NDArray[Any], b: NDArray[Any]) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


def _same_batch(a: RleBatch, b: RleBatch) -> None:
    _same_array(a.counts, b.counts)
    _same_array(a.offsets, b.offsets)
    _same_array(a.heights, b.heights)
    _same_array(a.widths, b.widths)


def test_harness_switches_and_restores() -> None:
    before = native.enabled()
    with _kernels(False):
        assert not native.enabled()
        with _kernels(True) as spy:
            assert native.enabled() and spy is not None
        assert not native.enabled()
    assert native.enabled() == before


# ---------------------------------------------------------------- decode


def _raw_token(x: int) -> str:
    """One signed number as pycocotools' rleToString writes it (no delta applied)."""
    out = []
    more = True
    while more:
        c = x & 0x1F
        x >>= 5
        more = x != -1 if c & 0x10 else x != 0
        out.append(chr((c | (0x20 if more else 0)) + 48))
    return "".join(out)


def _raw_string(values: Sequence[int]) -> str:
    return "".join(_raw_token(v) for v in values)


def _random_runs(rng: np.random.Generator) -> list[int]:
    n = int(rng.choice([0, 1, 1, 2, 3, 4, 5, 8, 13, 30]))
    style = int(rng.integers(5))
    if style == 0:  # small, with many 0-length runs and negative deltas
        runs = rng.integers(0, 4, n)
    elif style == 1:  # any magnitude
        runs = rng.integers(0, 2 ** int(rng.integers(1, 33)), n, dtype=np.int64)
    elif style == 2:  # extremes: deltas of +-(2**32 - 1), 7-character numbers
        runs = rng.choice(np.array([0, 1, 2**31, 2**32 - 2, 2**32 - 1], np.int64), n)
    elif style == 3:  # alternating big/small (large negative deltas)
        runs = np.where(np.arange(n) % 4 < 2, 2**32 - 1, rng.integers(0, 40, n))
    else:  # around the 5-bit and sign boundaries of each character
        edges = np.array([15, 16, 31, 32, 511, 512, 1023, 1024, 2**20, 2**25 - 1], np.int64)
        runs = rng.choice(edges, n) + rng.integers(-1, 2, n)
    return [int(v) for v in runs]


def _encode(runs: list[list[int]]) -> list[str]:
    flat = np.array([v for r in runs for v in r], dtype=np.int64)
    offsets = np.r_[0, np.cumsum([len(r) for r in runs])].astype(np.int64)
    return encode_counts(flat, offsets)


def _decode_both(strings: Sequence[str | bytes]) -> tuple[Any, Any, _Spy]:
    return _both(_outcome(lambda: decode_strings_uint32(strings)))


@pytest.mark.parametrize("chunk_elements", [None, 7])
def test_decode_random_runs_identical(monkeypatch, chunk_elements: int | None) -> None:
    if chunk_elements is not None:  # numpy decodes in many chunks, C in one pass
        monkeypatch.setattr(kernel_module, "CHUNK_ELEMENTS", chunk_elements)
    rng = np.random.default_rng(100)
    runs = [_random_runs(rng) for _ in range(600)]
    runs += [[], [0], [2**32 - 1], [0, 0, 0, 0], [0, 2**32 - 1, 0, 2**32 - 1, 0, 0, 1]]
    text = _encode(runs)
    assert max(map(len, text)) > 7 * 4 and any(len(s) == 0 for s in text)
    mixed: list[str | bytes] = [s.encode() if i % 3 == 1 else s for i, s in enumerate(text)]
    for strings in (text, mixed, [s.encode() for s in text]):
        fast, slow, spy = _decode_both(strings)
        assert spy.returned["decode"][0][0] == 0  # decoded in C without error
        _same_array(fast[0], slow[0])
        _same_array(fast[1], slow[1])
        assert fast[0].dtype == np.uint32
        assert fast[0].tolist() == [v for r in runs for v in r]
        assert fast[1].tolist() == np.r_[0, np.cumsum([len(r) for r in runs])].tolist()


def test_decode_sequences_other_than_lists() -> None:
    text = _encode([[3, 4, 5], [], [0, 7], [2**32 - 1]])
    cases: list[Sequence[str | bytes]] = [
        tuple(text),
        [np.str_(s) for s in text],  # str and bytes subclasses
        [np.bytes_(s.encode()) for s in text],
        [],
        [""],
        ("", ""),
    ]
    for strings in cases:
        fast, slow, spy = _decode_both(strings)
        assert spy.returned["decode"]
        _same_array(fast[0], slow[0])
        _same_array(fast[1], slow[1])


def test_decode_pycocotools_strings() -> None:
    rng = np.random.default_rng(101)
    masks = []
    for _ in range(150):
        h, w = (int(v) for v in rng.integers(1, 30, 2))
        kind = rng.integers(4)
        if kind == 0:
            m = rng.random((h, w)) < rng.random()
        elif kind == 1:
            m = np.zeros((h, w), bool)
        elif kind == 2:
            m = np.ones((h, w), bool)
        else:  # long runs: a few stripes
            m = np.zeros((h, w), bool)
            m[:, int(rng.integers(w)) :] = True
        masks.append(m)
    refs = [coco_mask.encode(np.asfortranarray(m.astype(np.uint8))) for m in masks]
    strings: list[str | bytes] = [r["counts"] for r in refs]
    fast, slow, spy = _decode_both(strings)
    assert spy.returned["decode"][0][0] == 0
    _same_array(fast[0], slow[0])
    _same_array(fast[1], slow[1])
    for i, (m, ref) in enumerate(zip(masks, refs, strict=True)):
        runs = fast[0][fast[1][i] : fast[1][i + 1]]
        h, w = m.shape
        pixels = np.repeat(np.arange(runs.shape[0]) % 2 == 1, runs).reshape(w, h).T
        assert np.array_equal(pixels, coco_mask.decode(ref).astype(bool))


_SEVEN = _raw_token(-(2**34))  # 7 characters, but below any run two places back
_BAD_STRINGS: list[tuple[str | bytes, str]] = [
    ("/", "character outside the COCO alphabet (ASCII 48..111)"),
    ("p", "character outside the COCO alphabet (ASCII 48..111)"),
    ("12/", "character outside the COCO alphabet (ASCII 48..111)"),
    (b"\x00", "character outside the COCO alphabet (ASCII 48..111)"),
    (b"1\xff", "character outside the COCO alphabet (ASCII 48..111)"),
    ("é".encode(), "character outside the COCO alphabet (ASCII 48..111)"),
    ("é", "character outside the COCO alphabet"),
    ("12é", "character outside the COCO alphabet"),
    ("1\x7f", "character outside the COCO alphabet (ASCII 48..111)"),
    ("P", "ends inside a number"),
    ("1o", "ends inside a number"),
    (b"123P", "ends inside a number"),
    ("P" * 7 + "0", "a number longer than 7 characters"),
    ("1" + "o" * 9 + "0", "a number longer than 7 characters"),
    (b"PPPPPPP0", "a number longer than 7 characters"),
    ("O", "a run length outside [0, 2**32)"),  # -1 as the first run
    (_raw_string([3, 4, -1]), "a run length outside [0, 2**32)"),
    (_raw_string([0, 5, 0, -6]), "a run length outside [0, 2**32)"),  # 5 - 6 by delta
    (_raw_string([2**32]), "a run length outside [0, 2**32)"),
    (_raw_string([2**34 - 1]), "a run length outside [0, 2**32)"),
    (_raw_string([0, 2**32 - 1, 0, 1]), "a run length outside [0, 2**32)"),  # delta over
    (_raw_string([1, 1, 1, 1, 1, -3, 7]), "a run length outside [0, 2**32)"),
    (_raw_string([1, 2, 3]) + _SEVEN, "a run length outside [0, 2**32)"),
    # several problems in one string: the numpy decoder's precedence
    ("O" + "P", "ends inside a number"),  # range, then cut
    ("O" + "P" * 8, "ends inside a number"),  # range, long and cut
    ("O" + "P" * 7 + "0", "a number longer than 7 characters"),  # range, then long
    ("P" * 8 + "0/", "character outside the COCO alphabet (ASCII 48..111)"),
    ("OP" * 3 + "p", "character outside the COCO alphabet (ASCII 48..111)"),
    ("O" + "P" * 8 + "é", "character outside the COCO alphabet"),
    ("P" * 8 + "0" + "P", "ends inside a number"),
]


@pytest.mark.parametrize(("bad", "problem"), _BAD_STRINGS)
@pytest.mark.parametrize("where", [0, 5, 11])
def test_decode_errors_identical(bad: str | bytes, problem: str, where: int) -> None:
    rng = np.random.default_rng(102 + where)
    good = _encode([_random_runs(rng) for _ in range(12)])
    strings: list[str | bytes] = [s.encode() if i % 2 else s for i, s in enumerate(good)]
    strings[where] = bad
    fast, slow, spy = _decode_both(strings)
    assert spy.returned["decode"]  # C ran (and found the problem itself)
    assert _raised(fast), fast
    assert fast == slow == ("ValueError", f"RLE string {where}: {problem}")


def test_decode_legal_edge_strings_identical() -> None:
    """Legal strings at the limits: 7-character deltas of +-(2**32 - 1), runs of 2**32 - 1."""
    top = 2**32 - 1
    strings: list[str | bytes] = [
        _raw_string([top, top, top, 0, 0]),
        _raw_string([0, top, 5, -top + 3]),
        _raw_string([top, top, top, -top, -top, top, top]),
        _raw_string([0] * 20).encode(),
        _raw_string([7, top, 0, -top, top]),
        "",
    ]
    assert max(len(_raw_token(v)) for v in (top, -top)) == 7
    fast, slow, spy = _decode_both(strings)
    assert spy.returned["decode"][0][0] == 0
    _same_array(fast[0], slow[0])
    _same_array(fast[1], slow[1])
    assert fast[0][fast[1][1] : fast[1][2]].tolist() == [0, top, 5, 3]
    assert fast[0][fast[1][2] : fast[1][3]].tolist() == [top, top, top, 0, 0, top, top]


@pytest.mark.parametrize("item", [bytearray(b"12"), memoryview(b"12")])
def test_decode_bytes_like_items_identical(item: Any) -> None:
    fast, slow, _ = _decode_both(["3", item])
    assert not _raised(slow), slow  # numpy: runs [3], [1, 2]
    assert not _raised(fast), fast
    _same_array(fast[0], slow[0])
    _same_array(fast[1], slow[1])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(
            st.one_of(st.integers(0, 40), st.integers(0, 2**32 - 1), st.sampled_from([2**32 - 1])),
            max_size=9,
        ),
        max_size=6,
    ),
    st.data(),
)
def test_decode_any_strings_identical(runs: list[list[int]], data: st.DataObject) -> None:
    strings: list[str | bytes] = list(_encode(runs))
    damage: bool = data.draw(st.booleans())
    if strings and damage:  # one string gets a bad piece somewhere
        i = data.draw(st.integers(0, len(strings) - 1))
        s = strings[i]
        assert isinstance(s, str)
        at = data.draw(st.integers(0, len(s)))
        junk = data.draw(st.sampled_from(["/", "p", "é", "P", "O", "o" * 8 + "0", "\x7f", ""]))
        strings[i] = s[:at] + junk + s[at:]
    fast, slow, _ = _decode_both(strings)
    if _raised(fast) or _raised(slow):
        assert fast == slow
    else:
        _same_array(fast[0], slow[0])
        _same_array(fast[1], slow[1])


# ---------------------------------------------------------------- mask IoU


def _random_mask(rng: np.random.Generator, h: int, w: int) -> NDArray[np.bool_]:
    kind = rng.integers(6)
    if kind == 0:
        m: NDArray[np.bool_] = rng.random((h, w)) < rng.random()
    elif kind == 1:
        m = np.zeros((h, w), bool)
        y, x = rng.integers(0, h), rng.integers(0, w)
        m[y : y + rng.integers(1, h + 1), x : x + rng.integers(1, w + 1)] = True
    elif kind == 2:
        m = np.zeros((h, w), bool)
    elif kind == 3:
        m = np.ones((h, w), bool)
    elif kind == 4:  # a single pixel
        m = np.zeros((h, w), bool)
        m[rng.integers(h), rng.integers(w)] = True
    else:
        yy, xx = np.mgrid[:h, :w]
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.5, max(h, w))
        m = (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
    return m


def _with_zero_runs(runs: list[int], rng: np.random.Generator) -> list[int]:
    """The same pixels with 0-length runs added: a run split around a 0, or a 0, 0 pair."""
    out = list(runs)
    for _ in range(int(rng.integers(1, 4))):
        at = int(rng.integers(0, len(out) + 1))
        if at < len(out) and rng.random() < 0.5:
            part = int(rng.integers(0, out[at] + 1))
            out[at : at + 1] = [part, 0, out[at] - part]
        else:
            out[at:at] = [0, 0]
    if rng.random() < 0.3:
        out += [0] if len(out) % 2 == 1 else [0, 0]  # a trailing empty run
    return out


def _masks_batch(
    masks: list[NDArray[np.bool_]], rng: np.random.Generator, zero_runs: float
) -> RleBatch:
    """Masks as one batch; a fraction of them get non-canonical 0-length runs."""
    runs = [RleBatch.from_masks(m).runs(0).astype(np.int64).tolist() for m in masks]
    runs = [_with_zero_runs(r, rng) if rng.random() < zero_runs else r for r in runs]
    return RleBatch.from_counts(runs, [m.shape for m in masks])


def _coco_iou(
    dt: list[NDArray[np.bool_]],
    gt: list[NDArray[np.bool_]],
    d: NDArray[Any],
    g: NDArray[Any],
    crowd: NDArray[Any],
) -> NDArray[np.float64]:
    """pycocotools.mask.iou of each pair, from canonical encodings of the same pixels."""
    out = np.zeros(d.shape[0], np.float64)
    enc = [coco_mask.encode(np.asfortranarray(m.astype(np.uint8))) for m in dt]
    gnc = [coco_mask.encode(np.asfortranarray(m.astype(np.uint8))) for m in gt]
    for p in range(d.shape[0]):
        value = coco_mask.iou([enc[d[p]]], [gnc[g[p]]], [int(crowd[p])])
        out[p] = np.asarray(value).reshape(-1)[0]
    return out


def _iou_case(
    rng: np.random.Generator, sizes: list[tuple[int, int]], zero_runs: float, n_pairs: int
) -> tuple[list[NDArray[np.bool_]], list[NDArray[np.bool_]], RleBatch, RleBatch, Any, Any, Any]:
    dt_masks: list[NDArray[np.bool_]] = []
    gt_masks: list[NDArray[np.bool_]] = []
    dt_of, gt_of = defaultdict(list), defaultdict(list)
    for s, (h, w) in enumerate(sizes):
        for _ in range(int(rng.integers(1, 6))):
            dt_of[s].append(len(dt_masks))
            dt_masks.append(_random_mask(rng, h, w))
        for _ in range(int(rng.integers(1, 6))):
            gt_of[s].append(len(gt_masks))
            gt_masks.append(_random_mask(rng, h, w))
    size_of_pair = rng.integers(0, len(sizes), n_pairs)  # random order, not grouped
    d = np.array([rng.choice(dt_of[s]) for s in size_of_pair], np.int64)
    g = np.array([rng.choice(gt_of[s]) for s in size_of_pair], np.int64)
    crowd = rng.random(n_pairs) < 0.3
    dt = _masks_batch(dt_masks, rng, zero_runs)
    gt = _masks_batch(gt_masks, rng, zero_runs)
    return dt_masks, gt_masks, dt, gt, d, g, crowd


@pytest.mark.parametrize("zero_runs", [0.0, 0.5])
def test_iou_random_pairs_identical_and_pycocotools(zero_runs: float) -> None:
    rng = np.random.default_rng(200 + int(zero_runs * 10))
    sizes = [(1, 1), (1, 17), (23, 1), (2, 3), (9, 13), (31, 40), (64, 5), (1, 300), (300, 1)]
    dt_masks, gt_masks, dt, gt, d, g, crowd = _iou_case(rng, sizes, zero_runs, 1500)
    fast, slow, spy = _both(lambda: rle_iou(dt, gt, d, g, crowd))
    assert len(spy.returned["iou"]) == 1
    _same_array(fast, slow)
    assert fast.dtype == np.float64
    _same_array(fast, _coco_iou(dt_masks, gt_masks, d, g, crowd))


def _as_strings(batch: RleBatch) -> RleStrings:
    """The batch's masks as compressed strings end to end (what streamed segm files keep)."""
    texts = [t.encode() for t in batch.to_strings()]
    offsets = np.zeros(len(texts) + 1, np.int64)
    np.cumsum([len(t) for t in texts], out=offsets[1:])
    chars = np.frombuffer(b"".join(texts), dtype=np.uint8)
    return RleStrings(chars, offsets, batch.heights, batch.widths)


@pytest.mark.parametrize("grouped", [False, True])
def test_iou_of_compressed_predictions_identical(grouped: bool) -> None:
    """Predictions kept as strings (decoded by the C kernel at their first pair, or by
    numpy at the first call) give the IoU of the decoded batch, and pycocotools'."""
    rng = np.random.default_rng(260 + grouped)
    sizes = [(1, 1), (1, 17), (23, 1), (9, 13), (31, 40), (64, 5), (300, 1)]
    dt_masks, gt_masks, dt, gt, d, g, crowd = _iou_case(rng, sizes, 0.0, 1200)
    if grouped:  # the matcher's order: pairs grouped by prediction (two threads at scale)
        order = np.argsort(d, kind="stable")
        d, g, crowd = d[order], g[order], crowd[order]
    strings = _as_strings(dt)
    fast, slow, spy = _both(lambda: rle_similarity(strings, gt)(d, g, crowd))
    assert len(spy.returned["iou"]) == 1
    _same_array(fast, slow)
    _same_array(fast, rle_iou(dt, gt, d, g, crowd))
    _same_array(fast, _coco_iou(dt_masks, gt_masks, d, g, crowd))


def test_iou_of_compressed_predictions_on_two_threads_identical(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(262)
    _, _, dt, gt, d, g, crowd = _iou_case(rng, [(9, 13), (31, 40)], 0.0, 3000)
    order = np.argsort(d, kind="stable")
    d, g, crowd = d[order], g[order], crowd[order]
    monkeypatch.setattr(native, "_THREAD_PAIRS", 100)
    fast, slow, spy = _both(lambda: rle_similarity(_as_strings(dt), gt)(d, g, crowd))
    assert len(spy.returned["iou"]) == 2  # one call per half
    _same_array(fast, slow)


@pytest.mark.parametrize(
    ("text", "size", "problem"),
    [
        ("2120", (2, 3), None),
        ("2120", (2, 4), native.SIZE_PROBLEM),
        ("6/", (2, 3), "character outside the COCO alphabet (ASCII 48..111)"),
        ("6P", (2, 3), "ends inside a number"),
        ("PPPPPPP0", (2, 3), "a number longer than 7 characters"),
        ("2@", (2, 3), "a run length outside [0, 2**32)"),
    ],
)
def test_string_check_identical(text: str, size: tuple[int, int], problem: str | None) -> None:
    """``RleStrings.problem``: each string decodes and fills its size, in C as in numpy."""
    good = RleBatch.from_masks(np.ones((1, 2, 3), dtype=bool))
    texts = [*good.to_strings() * 3, text, *good.to_strings()]
    sizes = [(2, 3)] * 3 + [size] + [(2, 3)]
    offsets = np.zeros(len(texts) + 1, np.int64)
    np.cumsum([len(t) for t in texts], out=offsets[1:])
    chars = np.frombuffer("".join(texts).encode(), dtype=np.uint8)
    heights, widths = np.array(sizes, np.int64).T.copy()
    strings = RleStrings(chars, offsets, heights, widths)
    fast, slow, spy = _both(strings.problem)
    assert len(spy.returned["check"]) == 1
    assert fast == slow == (None if problem is None else (3, problem))


def test_iou_non_canonical_counts_identical() -> None:
    """Runs with 0-length pieces everywhere (from_counts keeps them as given).

    pycocotools is asked about the canonical encoding of the same pixels: its
    rleIou stops early when both run lists reach a 0-length run at once (e.g. it
    scores [2, 0, 0, 3] against itself as 0), so on these very lists it has no
    consistent value to agree with.
    """
    counts = [
        [0, 5, 0, 3, 0, 4],
        [0, 0, 0, 12],
        [12, 0],
        [2, 0, 0, 3, 0, 0, 7],
        [0, 12],
        [0, 3, 0, 0, 0, 9],
        [5, 0, 0, 0, 0, 7, 0],
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
        [12],
    ]
    for h, w in [(3, 4), (12, 1), (1, 12)]:
        batch = RleBatch.from_counts(counts, [(h, w)] * len(counts))
        d, g = (a.ravel() for a in np.meshgrid(np.arange(len(counts)), np.arange(len(counts))))
        for crowd in (np.zeros(d.shape[0], bool), np.ones(d.shape[0], bool)):
            fast, slow, spy = _both(lambda: rle_iou(batch, batch, d, g, crowd))  # noqa: B023
            assert spy.returned["iou"]
            _same_array(fast, slow)
            masks = [batch.to_mask(i) for i in range(len(batch))]
            _same_array(fast, _coco_iou(masks, masks, d, g, crowd))


def test_iou_masks_of_billions_of_pixels_identical() -> None:
    """Areas and unions beyond 2**32 (pycocotools' uint arithmetic wraps there)."""
    h, w = 100_000, 100_000
    counts = [
        [3_000_000_000, 3_000_000_000, 4_000_000_000],
        [4_000_000_000, 4_000_000_000, 2_000_000_000],
        [0, 4_294_967_295, 0, 4_294_967_295, 0, 1_410_065_410],  # all pixels
        [4_000_000_000, 0, 4_000_000_000, 0, 2_000_000_000],  # empty
        [4_000_000_000, 0, 4_000_000_000, 0, 1_999_999_999, 1],  # the last pixel
        [0, 1, 4_294_967_295, 4_294_967_295, 1_410_065_408, 1],
    ]
    batch = RleBatch.from_counts(counts, [(h, w)] * len(counts))
    d, g = (a.ravel() for a in np.meshgrid(np.arange(len(counts)), np.arange(len(counts))))
    crowd = (d + g) % 2 == 0
    fast, slow, spy = _both(lambda: rle_iou(batch, batch, d, g, crowd))
    assert spy.returned["iou"]
    _same_array(fast, slow)
    assert fast[(d == 0) & (g == 1)].tolist() == [2e9 / 5e9]


def test_iou_zero_pixel_masks_and_no_pairs_identical() -> None:
    zero = RleBatch.from_counts([[0], [0, 0], [0, 0, 0]], [(0, 5), (5, 0), (0, 0)])
    pairs = np.array([0, 1, 2, 2, 1])
    fast, slow, _ = _both(lambda: rle_iou(zero, zero, pairs, pairs, pairs % 2 == 0))
    _same_array(fast, slow)
    none = np.zeros(0, np.int64)
    fast, slow, _ = _both(lambda: rle_iou(zero, zero, none, none, np.zeros(0, bool)))
    _same_array(fast, slow)


@settings(max_examples=120, deadline=None)
@given(
    st.tuples(st.integers(1, 6), st.integers(1, 6)).flatmap(
        lambda shape: st.tuples(
            st.lists(arrays(np.bool_, shape), min_size=1, max_size=4),
            st.lists(arrays(np.bool_, shape), min_size=1, max_size=4),
        )
    ),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)
def test_iou_any_small_masks_identical(
    masks: tuple[list[NDArray[np.bool_]], list[NDArray[np.bool_]]], seed: int, zero: bool
) -> None:
    dt_masks, gt_masks = masks
    rng = np.random.default_rng(seed)
    n = 12
    d = rng.integers(0, len(dt_masks), n)
    g = rng.integers(0, len(gt_masks), n)
    crowd = rng.random(n) < 0.5
    dt = _masks_batch(dt_masks, rng, 0.5 if zero else 0.0)
    gt = _masks_batch(gt_masks, rng, 0.5 if zero else 0.0)
    fast, slow, _ = _both(lambda: rle_iou(dt, gt, d, g, crowd))
    _same_array(fast, slow)
    _same_array(fast, _coco_iou(dt_masks, gt_masks, d, g, crowd))


# ---------------------------------------------------------------- rasterisation

_DUMMY = [0.0, 0.0, 1.0, 0.0, 1.0, 1.0]
"""A first part of 6 numbers makes frPyObjects rasterise every later part with frPoly."""


def _coco_rings(parts: list[list[float]], h: int, w: int) -> list[str]:
    rles = coco_mask.frPyObjects([_DUMMY, *parts], h, w)[1:]
    return [str(r["counts"].decode()) for r in rles]


def _coco_object(parts: list[list[float]], h: int, w: int) -> str:
    """merge(frPyObjects(parts, h, w)), with every part read as a polygon."""
    rles = coco_mask.frPyObjects([_DUMMY, *parts], h, w)[1:]
    rle = rles[0] if len(rles) == 1 else coco_mask.merge(rles)
    return str(rle["counts"].decode())


def _zigzag(
    rng: np.random.Generator, h: int, w: int, teeth: int, vertical: bool = True
) -> list[float]:
    """A comb whose teeth all cross the same columns (vertical) or rows."""
    a, b = sorted(rng.uniform(-2, w + 2, 2)) if vertical else sorted(rng.uniform(-2, h + 2, 2))
    start = rng.uniform(-3, (h if vertical else w) / 2)
    step = float(rng.choice([0.05, 0.2, 0.3, 0.5, 1.0, 2.5]))
    pts = []
    for i in range(2 * teeth):
        along = start + i * step
        across = a if i % 2 == 0 else b + rng.uniform(-0.2, 0.2)
        pts.append((across, along) if vertical else (along, across))
    end = start + 2 * teeth * step
    back = a - rng.uniform(0.5, 3)
    pts += [(back, end), (back, start)] if vertical else [(end, back), (start, back)]
    return [float(c) for p in pts for c in p]


def _random_part(rng: np.random.Generator, h: int, w: int) -> list[float]:
    style = int(rng.integers(10))
    k = int(rng.integers(3, 14))
    span = max(h, w)
    if style == 0:  # convex
        cx, cy = rng.uniform(-5, w + 5), rng.uniform(-5, h + 5)
        angles = np.sort(rng.uniform(0, 2 * np.pi, k))
        r = rng.uniform(0.3, span)
        pts = np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], 1)
    elif style == 1:  # arbitrary, self-intersecting, outside on every side
        pts = rng.uniform(-span, 2 * span + 1, (k, 2))
    elif style == 2:  # half-pixel lattice: pixel borders and centres
        pts = rng.integers(-4, 2 * span + 4, (k, 2)) / 2.0
    elif style == 3:  # tenths: the x5 grid's rounding ties (x.1, x.3, ...)
        pts = rng.integers(-20, 10 * span + 20, (k, 2)) / 10.0
    elif style == 4:  # steep, near-vertical edges
        x = rng.uniform(-1, w + 1)
        ys = rng.uniform(-span, 2 * span, k)
        pts = np.stack([x + rng.uniform(-0.4, 0.4, k), ys], 1)
    elif style == 5:  # near-horizontal edges
        y = rng.uniform(-1, h + 1)
        xs = rng.uniform(-span, 2 * span, k)
        pts = np.stack([xs, y + rng.uniform(-0.4, 0.4, k)], 1)
    elif style == 6:  # many crossings in one column (> 32: qsort within a column)
        return _zigzag(rng, h, w, int(rng.integers(17, 60)), vertical=True)
    elif style == 7:
        return _zigzag(rng, h, w, int(rng.integers(3, 40)), vertical=False)
    elif style == 8:  # tiny or collinear
        base = rng.uniform(-1, span + 1, 2)
        pts = base + rng.uniform(-0.3, 0.3, (k, 2)) * rng.choice([0.0, 1.0, 10.0])
    else:  # 2-point ring
        pts = rng.uniform(-3, span + 3, (2, 2))
    if rng.random() < 0.2:  # repeated vertex
        pts[rng.integers(len(pts))] = pts[rng.integers(len(pts))]
    part = [float(v) for v in pts.ravel()]
    if rng.random() < 0.1:
        part.append(float(rng.uniform(-5, 50)))  # odd trailing number
    return part


def _rects(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def _fixed_objects() -> list[list[list[float]]]:
    tri = [1.0, 1.0, 8.0, 1.5, 4.0, 7.0]
    return [
        [_rects(1, 1, 5, 5), _rects(5, 1, 9, 5)],  # touching along x = 5
        [_rects(1, 1, 5, 5), _rects(1, 5, 5, 9)],  # touching along y = 5
        [_rects(1, 1, 5, 5), _rects(3, 3, 8, 8)],  # overlapping
        [_rects(0, 0, 10, 10), _rects(2, 2, 4, 4)],  # nested
        [_rects(0.5, 0.5, 2.5, 2.5), _rects(6.5, 6.5, 9.5, 9.5)],  # disjoint
        [tri, tri],  # the same part twice
        [tri, tri, tri],
        [tri[:4], tri[2:]],  # 2-point first part
        [[2.0, 2.0, 2.0, 8.0], [2.4, 2.0, 2.6, 8.0]],  # degenerate vertical slivers
        [[*tri, 3.0]],  # odd trailing number
        [_rects(-5, -5, 30, 30)],  # covers the image
        [_rects(-5, -5, 30, 30), tri],
        [_rects(-9, 2, -1, 6), _rects(12, 2, 20, 6), _rects(2, -9, 6, -1), _rects(2, 12, 6, 20)],
        [[0.5, 0.5, 9.5, 0.5, 9.5, 9.5, 0.5, 9.5]],  # pixel centres
        [[0.1, 0.3, 9.9, 0.7, 5.1, 9.3]],  # fine-grid rounding ties
        [[-0.1, -0.3, -0.9, 10.7, 10.1, 10.1]],
        [[0.0, 0.0, 0.0, 0.0, 0.0, 0.0]],
        [_rects(0, 0, 1, 1)],
        [_rects(0, 0, 0.2, 10), _rects(0.3, 0, 0.5, 10), _rects(0.6, 0, 1.0, 10)],
    ]


def _zebra_rings(columns: Sequence[int], h: int) -> list[list[float]]:
    """Combs inside single, far-apart columns: many intervals in few, sparse columns."""
    parts = []
    for c in columns:
        pts = []
        for i in range(40):
            pts += [c + (0.1 if i % 2 == 0 else 0.9), i * h / 40.0]
        pts += [c + 0.05, float(h), c + 0.05, 0.0]
        parts.append(pts)
    return parts


def _polygon_results(
    objects: list[list[list[float]]], heights: Sequence[int], widths: Sequence[int]
) -> tuple[RleBatch, RleBatch, _Spy]:
    fast, slow, spy = _both(lambda: rle_from_polygons(objects, heights, widths))
    _same_batch(fast, slow)
    assert fast.to_strings() == slow.to_strings()
    return fast, slow, spy


def _assert_pycocotools(
    batch: RleBatch, objects: list[list[list[float]]], heights: Sequence[int], widths: Sequence[int]
) -> None:
    ours = batch.to_strings()
    for i, (parts, h, w) in enumerate(zip(objects, heights, widths, strict=True)):
        if w > 0:  # pycocotools' frPoly writes runs that do not sum to 0 for w = 0
            assert ours[i] == _coco_object(parts, h, w), (i, parts, h, w)


@pytest.mark.parametrize("chunk_elements", [None, 50])
def test_polygons_random_identical_and_pycocotools(monkeypatch, chunk_elements: int | None) -> None:
    if chunk_elements is not None:
        monkeypatch.setattr(kernel_module, "CHUNK_ELEMENTS", chunk_elements)
    rng = np.random.default_rng(300)
    objects, heights, widths = [], [], []
    for _ in range(700):
        h, w = (int(v) for v in rng.choice([1, 2, 3, 7, 20, 45, 80], 2))
        parts = [_random_part(rng, h, w) for _ in range(int(rng.choice([1, 1, 2, 3, 5])))]
        objects.append(parts)
        heights.append(h)
        widths.append(w)
    for parts in _fixed_objects():
        for h, w in [(10, 10), (1, 1), (12, 7), (3, 20)]:
            objects.append(parts)
            heights.append(h)
            widths.append(w)
    zebra = _zebra_rings([0, 250, 499], 30)
    objects += [zebra, zebra[:1], [*zebra, _rects(-1, -1, 600, 40)]]
    heights += [30, 30, 30]
    widths += [500, 500, 500]
    fast, _, spy = _polygon_results(objects, heights, widths)
    assert [r[0] for r in spy.returned["rasterize"]] == [0]  # all in C, no fallback
    _assert_pycocotools(fast, objects, heights, widths)


def test_polygons_one_column_with_many_crossings() -> None:
    """> 32 crossings in a column: the per-column qsort; sparse columns: the plain qsort."""
    rng = np.random.default_rng(301)
    objects = [[_zigzag(rng, 40, 6, teeth, vertical=True)] for teeth in (16, 17, 33, 80, 200)]
    objects += [[_zigzag(rng, 6, 40, teeth, vertical=False)] for teeth in (16, 17, 33, 80)]
    objects += [_zebra_rings([c], 50) for c in (0, 3, 7)]
    objects += [_zebra_rings([0, 9], 50), _zebra_rings([1, 4, 8], 50)]
    heights = [40] * 5 + [6] * 4 + [50] * 5
    widths = [6] * 5 + [40] * 4 + [10] * 5
    fast, _, spy = _polygon_results(objects, heights, widths)
    assert [r[0] for r in spy.returned["rasterize"]] == [0]
    _assert_pycocotools(fast, objects, heights, widths)


@pytest.mark.parametrize(("h", "w"), [(0, 0), (0, 7), (7, 0), (1, 1), (1, 9), (9, 1)])
def test_polygons_tiny_and_empty_images(h: int, w: int) -> None:
    rng = np.random.default_rng(302 + h * 10 + w)
    objects = [
        [_random_part(rng, 10, 10) for _ in range(int(rng.integers(1, 4)))] for _ in range(80)
    ]
    objects += _fixed_objects()
    objects += [[_zigzag(rng, 10, 10, 40)], _zebra_rings([0, 3], 10)]
    heights, widths = [h] * len(objects), [w] * len(objects)
    fast, _, spy = _polygon_results(objects, heights, widths)
    assert [r[0] for r in spy.returned["rasterize"]] == [0]
    _assert_pycocotools(fast, objects, heights, widths)


_HUGE = [1e5, 1e7, 1e12, 1.9e14, 1.9999e14, 2.0001e14, 1e15, 1e16]


def _huge_parts(s: float) -> list[list[float]]:
    return [
        [3.0, -s, 3.5, s, 4.0, -s],  # steep, thin, through the image
        [-s, -s, s, s + 0.3, s, -s + 7.0],  # long diagonals
        [-s, 2.0, s, 3.0, s, 9.0, -s, 6.5],  # near-horizontal, wide
        [2.0, 2.0, 8.0, 3.0, s, 5.0],  # one far vertex
        [-s, -s, s, -s, s, s, -s, s],  # covers everything
        [s / 2, s / 2, s, s / 2, s, s],  # far outside
        [5.0, 5.0, 5.0 + 1e-9 * s, -s, 5.1, s],
    ]


def _first_status(spy: _Spy) -> int:
    """What the C rasteriser answered first (0, or -2 for coordinates beyond its range);
    after a fallback the numpy path calls it again per chunk of rings."""
    return int(spy.returned["rasterize"][0][0])


@pytest.mark.parametrize("s", _HUGE)
def test_polygons_huge_coordinates_identical(s: float) -> None:
    parts = _huge_parts(s)
    objects = [[p] for p in parts] + [parts, parts[:2]]
    for parts_of_one in objects:
        fast, slow, spy = _both(_outcome(lambda: rle_from_polygons([parts_of_one], 20, 30)))  # noqa: B023
        largest = max(abs(v) for p in parts_of_one for v in p)
        assert _first_status(spy) == (0 if 5 * largest < 1e15 else -2)  # C's range, x5 grid
        if isinstance(fast, RleBatch) and isinstance(slow, RleBatch):
            _same_batch(fast, slow)
            if s <= 1e5:  # pycocotools allocates a point per fine-grid step of each edge
                _assert_pycocotools(fast, [parts_of_one], [20], [30])
        else:  # beyond C's range numpy's along-y search may give up on steep edges (ValueError)
            assert s >= 1e15 and fast == slow, (parts_of_one, fast, slow)


@pytest.mark.parametrize(
    "part",
    [
        [14.5, -1.5e14, 14.4, 1.5e14],
        [14.5, -1.9e14, 14.3, 1.9e14],
        [25.49, 96516000000000.0, 25.64, -160837000000000.0, 27.93, 129818000000000.0],
    ],
)
def test_polygons_steep_edges_near_the_c_limit_identical(part: list[float]) -> None:
    fast, slow, spy = _both(_outcome(lambda: rle_from_polygons([[part]], 20, 30)))
    assert _first_status(spy) == 0
    assert isinstance(slow, RleBatch), slow
    assert isinstance(fast, RleBatch)
    _same_batch(fast, slow)


def test_polygon_batch_with_one_huge_object_falls_back_whole() -> None:
    rng = np.random.default_rng(303)
    objects = [[_random_part(rng, 20, 30)] for _ in range(30)]
    objects.insert(17, [[1.0, 1.0, 1e16, 2.0, 5.0, 9.0]])
    heights, widths = [20] * len(objects), [30] * len(objects)
    fast, _, spy = _polygon_results(objects, heights, widths)
    assert _first_status(spy) == -2
    del objects[17]
    rest = fast.take(np.delete(np.arange(len(fast)), 17)).to_strings()
    assert rest == [_coco_object(o, 20, 30) for o in objects]


def test_polygon_masks_beyond_uint32_runs_fall_back_identically() -> None:
    """70000 x 70000 pixels: the background run does not fit a uint32. C falls back;
    numpy's path then wraps it silently (validate=False), the same both ways."""
    objects = [[[1.0, 1.0, 5.0, 1.0, 5.0, 5.0]], [_rects(-1, -1, 70001, 70001)]]
    _, _, spy = _polygon_results(objects, [70000, 70000], [70000, 70000])
    assert _first_status(spy) == -2


def _ring_case(
    rng: np.random.Generator, n: int
) -> tuple[NDArray[np.float64], NDArray[np.int64], list[int], list[int], list[list[float]]]:
    rings: list[list[float]] = []
    heights, widths = [], []
    for _ in range(n):
        h, w = (int(v) for v in rng.choice([1, 2, 5, 17, 40], 2))
        if rng.random() < 0.15:  # a single vertex
            ring = [float(v) for v in rng.uniform(-2, 12, 2)]
        else:
            ring = _random_part(rng, h, w)
            ring = ring[: len(ring) // 2 * 2]
        rings.append(ring)
        heights.append(h)
        widths.append(w)
    vertices = np.array([v for r in rings for v in r], np.float64).reshape(-1, 2)
    offsets = np.r_[0, np.cumsum([len(r) // 2 for r in rings])].astype(np.int64)
    return vertices, offsets, heights, widths, rings


def test_rasterize_polygons_rings_identical_and_frpoly() -> None:
    rng = np.random.default_rng(304)
    vertices, offsets, heights, widths, rings = _ring_case(rng, 500)
    fast, slow, spy = _both(lambda: rasterize_polygons(vertices, offsets, heights, widths))
    _same_batch(fast, slow)
    assert [r[0] for r in spy.returned["rasterize"]] == [0]
    ours = fast.to_strings()
    for i, (ring, h, w) in enumerate(zip(rings, heights, widths, strict=True)):
        assert ours[i] == _coco_rings([ring], h, w)[0], (i, ring, h, w)
    # errors raised before the kernels are the same either way
    bad_cases: list[tuple[Any, Any]] = [
        (np.zeros((0, 2)), [0, 0]),
        (np.array([[0.0, 0.0], [np.inf, 1.0], [2.0, 2.0]]), [0, 3]),
    ]
    for v, o in bad_cases:
        fast_e, slow_e, _ = _both(_outcome(lambda: rasterize_polygons(v, o, 5, 5)))  # noqa: B023
        assert isinstance(fast_e, tuple) and fast_e == slow_e


def test_boxes_identical_and_frbbox() -> None:
    rng = np.random.default_rng(305)
    boxes = np.concatenate(
        [
            rng.uniform(-10, 40, (200, 4)),
            rng.integers(-4, 60, (200, 4)) / 2.0,
            rng.integers(-20, 300, (100, 4)) / 10.0,
            np.array(
                [
                    [0, 0, 0, 0],
                    [0, 0, 30, 20],
                    [-5, -5, 100, 100],
                    [3, 3, -2, 4],  # negative width
                    [3, 3, 4, -2],
                    [29.5, 19.5, 0.5, 0.5],
                    [0.1, 0.3, 0.2, 0.4],
                    [1e7, 1e7, 1.0, 1.0],
                ]
            ),
        ]
    )
    fast, slow, spy = _both(lambda: rle_from_boxes(boxes, 20, 30))
    _same_batch(fast, slow)
    assert [r[0] for r in spy.returned["rasterize"]] == [0]
    expected = [str(r["counts"].decode()) for r in coco_mask.frPyObjects(boxes, 20, 30)]
    assert fast.to_strings() == expected


_coordinate = st.one_of(
    st.floats(-15, 45, width=32),
    st.integers(-30, 90).map(lambda v: v / 2.0),
    st.integers(-150, 450).map(lambda v: v / 10.0),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(_coordinate, _coordinate), min_size=2, max_size=9),
        min_size=1,
        max_size=4,
    ),
    st.integers(1, 30),
    st.integers(1, 30),
)
def test_any_polygon_object_identical(
    points: list[list[tuple[float, float]]], h: int, w: int
) -> None:
    parts = [[float(c) for p in part for c in p] for part in points]
    fast, _, spy = _polygon_results([parts], [h], [w])
    assert [r[0] for r in spy.returned["rasterize"]] == [0]
    _assert_pycocotools(fast, [parts], [h], [w])
