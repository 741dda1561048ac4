"""RLE codec, area, bbox, mask encode/decode and IoU against pycocotools.mask itself."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pycocotools.mask as coco_mask
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sliceboard.evaluation.geometry import rle_iou as rle_iou_module
from sliceboard.evaluation.geometry.rle import RleBatch
from sliceboard.evaluation.geometry.rle_codec import decode_strings, encode_counts
from sliceboard.evaluation.geometry.rle_iou import rle_iou, rle_similarity


def _coco(masks: list[np.ndarray]) -> list[dict[str, Any]]:
    return [coco_mask.encode(np.asfortranarray(m.astype(np.uint8))) for m in masks]


def _batch(rles: list[dict[str, Any]]) -> RleBatch:
    return RleBatch.from_strings([r["counts"] for r in rles], [r["size"] for r in rles])


def _random_mask(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    kind = rng.integers(5)
    if kind == 0:
        return rng.random((h, w)) < rng.random()
    if kind == 1:
        m = np.zeros((h, w), bool)
        y, x = rng.integers(0, h), rng.integers(0, w)
        m[y : y + rng.integers(1, h + 1), x : x + rng.integers(1, w + 1)] = True
        return m
    if kind == 2:
        return np.zeros((h, w), bool)
    if kind == 3:
        return np.ones((h, w), bool)
    yy, xx = np.mgrid[:h, :w]
    cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(1, max(h, w))
    disk: np.ndarray = (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
    return disk


def test_encode_decode_area_bbox_match_pycocotools() -> None:
    rng = np.random.default_rng(0)
    masks = [_random_mask(rng, *rng.integers(1, 40, 2)) for _ in range(300)]
    refs = _coco(masks)
    for m, ref in zip(masks, refs, strict=True):
        ours = RleBatch.from_masks(m)
        assert ours.to_strings() == [ref["counts"].decode()]
        assert ours.area().tolist() == [int(coco_mask.area(ref))]
        assert np.array_equal(ours.bbox()[0], coco_mask.toBbox(ref))
        assert np.array_equal(ours.to_mask(0), coco_mask.decode(ref).astype(bool))
    batch = _batch(refs)  # the same, as one batch of mixed sizes
    assert batch.to_strings() == [r["counts"].decode() for r in refs]
    assert batch.area().tolist() == [int(coco_mask.area(r)) for r in refs]
    assert np.array_equal(batch.bbox(), coco_mask.toBbox(refs))


def test_many_masks_of_one_size_encode_together() -> None:
    rng = np.random.default_rng(1)
    stack = np.stack([_random_mask(rng, 17, 23) for _ in range(50)])
    refs = coco_mask.encode(np.asfortranarray(stack.transpose(1, 2, 0).astype(np.uint8)))
    assert RleBatch.from_masks(stack).to_strings() == [r["counts"].decode() for r in refs]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), max_size=12))
def test_codec_round_trips_any_uint32_runs(counts: list[int]) -> None:
    strings = encode_counts(np.array(counts, np.int64), np.array([0, len(counts)]))
    decoded, offsets = decode_strings(strings)
    assert decoded.tolist() == counts
    assert offsets.tolist() == [0, len(counts)]


@pytest.mark.parametrize("budget", [1, 5, 64, 1 << 18])
def test_many_strings_decode_in_one_call_across_chunks(monkeypatch, budget: int) -> None:
    """Chunk edges must not break the delta rule, the offsets or multi-character numbers."""
    from sliceboard.evaluation.geometry import kernel

    monkeypatch.setattr(kernel, "CHUNK_ELEMENTS", budget)
    rng = np.random.default_rng(7)
    runs = [
        rng.integers(0, 2 ** int(rng.integers(1, 33)), int(rng.integers(0, 9)), dtype=np.int64)
        for _ in range(400)
    ]
    lengths = np.array([r.shape[0] for r in runs])
    flat = np.concatenate(runs)
    offsets = np.r_[0, np.cumsum(lengths)]
    text = encode_counts(flat, offsets)
    strings: list[str | bytes] = [s.encode() if i % 3 == 0 else s for i, s in enumerate(text)]
    decoded, got_offsets = decode_strings(strings)
    assert decoded.dtype == np.int64 and decoded.tolist() == flat.tolist()
    assert got_offsets.tolist() == offsets.tolist()
    strings[377] = "P" * 7 + "0"  # a number of 8 characters
    with pytest.raises(ValueError, match="RLE string 377: a number longer than 7"):
        decode_strings(strings)
    strings[377] = "0é"
    with pytest.raises(ValueError, match="RLE string 377: character outside"):
        decode_strings(strings)


def test_pycocotools_strings_decode_to_its_areas() -> None:
    rng = np.random.default_rng(8)
    refs = _coco([_random_mask(rng, 64, 48) for _ in range(200)])
    batch = RleBatch.from_strings([r["counts"].decode() for r in refs], [r["size"] for r in refs])
    assert batch.counts.dtype == np.uint32
    assert batch.area().tolist() == coco_mask.area(refs).tolist()
    assert batch.to_strings() == [r["counts"].decode() for r in refs]


@settings(max_examples=100, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(1, 9), st.integers(1, 9))))
def test_uncompressed_counts_compress_like_pycocotools(mask: np.ndarray) -> None:
    runs = RleBatch.from_masks(mask).runs(0).tolist()
    h, w = mask.shape
    ref = coco_mask.frPyObjects({"counts": runs, "size": [h, w]}, h, w)
    assert RleBatch.from_counts([runs], [(h, w)]).to_strings() == [ref["counts"].decode()]


def test_non_canonical_empty_mask_bbox_keeps_pycocotools_unsigned_wraparound() -> None:
    ref = coco_mask.frPyObjects({"counts": [12, 0], "size": [3, 4]}, 3, 4)
    ours = RleBatch.from_counts([[12, 0]], [(3, 4)])
    assert np.array_equal(ours.bbox(), coco_mask.toBbox([ref]))


@pytest.mark.parametrize(
    ("counts", "size", "message"),
    [
        ([1, 2], (2, 2), "sum to 3"),
        ([5, -1], (2, 2), "[0, 2**32)"),
        ([], (2, 2), "sum to 0"),
    ],
)
def test_invalid_uncompressed_runs_raise_value_error(counts, size, message) -> None:
    with pytest.raises(ValueError, match="mask 0") as err:
        RleBatch.from_counts([counts], [size])
    assert message in str(err.value)


@pytest.mark.parametrize("bad", ["0a", "\x7f", "é1", "P", b"1\xff", b"/"])
def test_malformed_strings_raise_value_error(bad: str | bytes) -> None:
    with pytest.raises(ValueError, match="RLE string 0"):
        RleBatch.from_strings([bad], [(1, 1)])
    with pytest.raises(ValueError, match="RLE string 2"):  # after good strings of its type
        good = "1" if isinstance(bad, str) else b"1"
        RleBatch.from_strings([good, good, bad], [(1, 1)] * 3)


def test_string_with_wrong_total_names_the_mask() -> None:
    good = coco_mask.encode(np.asfortranarray(np.ones((2, 2), np.uint8)))["counts"]
    with pytest.raises(ValueError, match=r"mask 1: run lengths sum to 4, but size \[3, 3\]"):
        RleBatch.from_strings([good, good], [(2, 2), (3, 3)])


def test_take_and_concat_keep_masks() -> None:
    rng = np.random.default_rng(3)
    refs = _coco([_random_mask(rng, 5, 7) for _ in range(6)])
    batch = _batch(refs)
    picked = batch.take([4, 0, 4])
    assert picked.to_strings() == [refs[i]["counts"].decode() for i in (4, 0, 4)]
    joined = RleBatch.concat([batch.take([1]), batch.take([2, 3])])
    assert joined.to_strings() == [refs[i]["counts"].decode() for i in (1, 2, 3)]


def _all_pairs(nd: int, ng: int) -> tuple[np.ndarray, np.ndarray]:
    d, g = np.meshgrid(np.arange(nd), np.arange(ng), indexing="ij")
    return d.ravel(), g.ravel()


def test_iou_is_bit_identical_to_pycocotools_including_crowd() -> None:
    rng = np.random.default_rng(4)
    for _ in range(150):
        h, w = (int(v) for v in rng.integers(1, 48, 2))
        nd, ng = (int(v) for v in rng.integers(1, 7, 2))
        dts = _coco([_random_mask(rng, h, w) for _ in range(nd)])
        gts = _coco([_random_mask(rng, h, w) for _ in range(ng)])
        crowd = rng.random(ng) < 0.4
        ref = np.asarray(coco_mask.iou(dts, gts, crowd.astype(np.uint8).tolist()))
        d, g = _all_pairs(nd, ng)
        ours = rle_iou(_batch(dts), _batch(gts), d, g, crowd[g])
        assert np.array_equal(ours, ref.reshape(-1)), (ours, ref)


def test_iou_pairs_across_items_of_different_sizes() -> None:
    rng = np.random.default_rng(5)
    sizes = [(30, 40), (12, 9), (64, 3)]
    dts: list[dict[str, Any]] = []
    gts: list[dict[str, Any]] = []
    d_idx, g_idx, expected = [], [], []
    for h, w in sizes:
        dt = _coco([_random_mask(rng, h, w) for _ in range(4)])
        gt = _coco([_random_mask(rng, h, w) for _ in range(3)])
        ref = np.asarray(coco_mask.iou(dt, gt, [0, 0, 0]))
        d, g = _all_pairs(4, 3)
        d_idx.append(d + len(dts))
        g_idx.append(g + len(gts))
        expected.append(ref.reshape(-1))
        dts += dt
        gts += gt
    kernel = rle_similarity(_batch(dts), _batch(gts))
    d_all, g_all = np.concatenate(d_idx), np.concatenate(g_idx)
    ours = kernel(d_all, g_all, np.zeros(d_all.shape[0], bool))
    assert np.array_equal(ours, np.concatenate(expected))


def test_iou_rejects_masks_of_different_sizes() -> None:
    a = RleBatch.from_masks(np.ones((2, 3), bool))
    b = RleBatch.from_masks(np.ones((3, 2), bool))
    with pytest.raises(ValueError, match="mask sizes differ"):
        rle_iou(a, b, np.array([0]), np.array([0]), np.array([False]))


def test_iou_with_no_pairs_is_empty() -> None:
    a = RleBatch.from_masks(np.ones((2, 3), bool))
    out = rle_iou(a, a, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool))
    assert out.shape == (0,) and out.dtype == np.float64


def test_small_chunks_give_the_same_results_and_error_positions(monkeypatch) -> None:
    from sliceboard.evaluation.geometry import kernel

    rng = np.random.default_rng(6)
    refs = _coco([_random_mask(rng, 9, 13) for _ in range(60)])
    whole = _batch(refs)
    d, g = _all_pairs(60, 60)
    expected = rle_iou(whole, whole, d, g, g % 3 == 0)
    monkeypatch.setattr(kernel, "CHUNK_ELEMENTS", 7)
    monkeypatch.setattr(rle_iou_module, "_PAIR_RUNS", 40)
    chunked = _batch(refs)
    assert np.array_equal(chunked.counts, whole.counts)
    assert np.array_equal(chunked.bbox(), whole.bbox())
    assert np.array_equal(rle_iou(chunked, chunked, d, g, g % 3 == 0), expected)
    shuffle = rng.permutation(d.shape[0])  # masks recur in many chunks of pairs
    d, g = d[shuffle], g[shuffle]
    assert np.array_equal(rle_iou(chunked, chunked, d, g, g % 3 == 0), expected[shuffle])
    strings: list[bytes] = [r["counts"] for r in refs]
    strings[41] = b"0a"
    with pytest.raises(ValueError, match="RLE string 41: ends inside a number"):
        RleBatch.from_strings(strings, [r["size"] for r in refs])


def test_empty_batches_and_zero_pixel_masks() -> None:
    empty = RleBatch.concat([])
    assert len(empty) == 0 and empty.bbox().shape == (0, 4) and empty.to_strings() == []
    assert len(RleBatch.from_strings([], np.zeros((0, 2)))) == 0
    one = RleBatch.from_masks(np.ones((2, 3), bool))
    none = np.zeros(0, np.int64)
    assert rle_similarity(empty, one)(none, none, np.zeros(0, bool)).shape == (0,)
    flat = RleBatch.from_counts([[0]], [(0, 5)])
    assert flat.area().tolist() == [0] and flat.to_strings() == ["0"]
    zero = RleBatch.from_counts([[0, 0], [0, 0, 0]], [(0, 5), (5, 0)])  # a foreground run each
    pairs = np.array([0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division by a zero height
        iou = rle_iou(zero, zero, pairs, pairs, np.array([False, True]))
    assert iou.tolist() == [0.0, 0.0]
