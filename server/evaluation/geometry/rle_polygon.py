"""Polygons rasterised to COCO RLE exactly as pycocotools' ``rleFrPoly``, vectorised.

pycocotools scales the vertices by 5 and rounds them, walks every edge with a
DDA line on that fine grid, keeps the steps where the fine x coordinate
crosses the centre of a pixel column, maps each back to the first pixel row
below the boundary, and turns the sorted crossing positions into runs.

Here only those crossings are generated, for all edges of all polygons at
once: along an x-major edge the crossing with fine column u' = 5 * col + 2 is
at DDA step u' - xs, and its rows are the DDA's rounding there; along a
y-major edge the step is estimated analytically and then confirmed (or moved
by one) with the DDA's own rounding, so every crossing and row is the one
pycocotools computes, with a fifth or less of its points. The final "sort and
pair up" differs only in form: pycocotools sums consecutive differences and
folds zeros into the previous run, which equals keeping the crossing positions
that occur an odd number of times.

Multi-part objects are the union of their parts (``mask.merge``). Every part
is a polygon: pycocotools 2.0.11 would route a part list whose first part has
exactly four numbers to ``frBbox`` and fail with a TypeError, so there is no
value to agree with, and a 2-point part is rasterised as the degenerate
polygon it is (as ``frPoly`` does for any later part).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sliceboard.evaluation.geometry import native
from sliceboard.evaluation.geometry.kernel import chunks, ranges, segment_ids
from sliceboard.evaluation.geometry.rle import RleBatch

_SCALE = 5.0
#: corrections of the along-y estimate before giving up (the C kernel allows as many, so the
#: two agree on which polygons raise); a handful suffice below ~1e13 pixel coordinates
_SEARCH_STEPS = 64


def _round_half_up_trunc(values: NDArray[np.float64]) -> NDArray[np.int64]:
    """C's ``(int)(v + .5)``: add one half, then truncate toward zero."""
    return np.trunc(values + 0.5).astype(np.int64)


def _sort_by_owner(
    owner: NDArray[np.int64], position: NDArray[np.int64], extra: NDArray[np.int64] | None = None
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Sorts (owner, position[, extra in {0, 1}]) lexicographically; returns them sorted.

    One ``np.sort`` of a packed int64 key, which is several times faster than
    ``np.lexsort`` on the millions of boundaries a dataset produces.
    """
    bits = 1 if extra is not None else 0
    span = int(position.max()) + 1 if position.size else 1
    groups = int(owner.max()) + 1 if owner.size else 1
    if float(groups) * span * (1 << bits) >= 2.0**62:
        keys = (position, owner) if extra is None else (extra, position, owner)
        order = np.lexsort(keys)
        ex = extra[order] if extra is not None else np.zeros_like(position)
        return owner[order], position[order], ex
    key = (owner * span + position) << bits
    if extra is not None:
        key |= extra
    key.sort()
    ex = key & 1 if extra is not None else np.zeros_like(key)
    key >>= bits
    return key // span, key % span, ex


def _rle_from_boundaries(
    owner: NDArray[np.int64], position: NDArray[np.int64], n: int, pixels: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Run lengths from toggle positions, keeping positions seen an odd number of times.

    Args:
        owner: int64 (B,) mask of each toggle position.
        position: int64 (B,) toggle positions in [0, h*w].
        n: number of masks.
        pixels: int64 (n,) h*w of each mask; a final boundary there closes each mask.

    Returns:
        ``(counts, offsets)`` int64 (R,) and (n+1,).
    """
    owner, position, _ = _sort_by_owner(owner, position)
    if owner.size:
        new = np.r_[True, (owner[1:] != owner[:-1]) | (position[1:] != position[:-1])]
        starts = np.flatnonzero(new)
        multiplicity = np.diff(np.r_[starts, owner.shape[0]])
        keep = starts[(multiplicity % 2 == 1) & (position[starts] != pixels[owner[starts]])]
        owner, position = owner[keep], position[keep]
    # Each mask's kept toggles, then its closing boundary h*w (larger than all).
    lengths = np.bincount(owner, minlength=n).astype(np.int64) + 1
    offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    bounds = np.empty(int(offsets[-1]), dtype=np.int64)
    closing = offsets[1:] - 1
    slot = np.ones(bounds.shape[0], dtype=bool)
    slot[closing] = False
    bounds[slot] = position
    bounds[closing] = pixels
    counts = np.diff(bounds, prepend=0)
    counts[offsets[:-1]] = bounds[offsets[:-1]]
    return counts, offsets


def rasterize_polygons(
    vertices: ArrayLike, vertex_offsets: ArrayLike, heights: ArrayLike, widths: ArrayLike
) -> RleBatch:
    """Rasterises n simple polygon rings, one RLE each, bit-identical to ``mask.frPoly``.

    Args:
        vertices: float64 (V, 2) x, y of every vertex of all rings concatenated
            (pixel coordinates, pixel (0, 0) covers [0, 1) x [0, 1)).
        vertex_offsets: int64 (n+1,) ring i owns ``vertices[off[i]:off[i+1]]``;
            every ring needs at least one vertex; all coordinates finite.
        heights: int64 (n,) image heights.
        widths: int64 (n,) image widths.

    Returns:
        The n masks as an ``RleBatch``.
    """
    xy = np.asarray(vertices, dtype=np.float64).reshape(-1, 2)
    off = np.asarray(vertex_offsets, dtype=np.int64).reshape(-1)
    n = off.shape[0] - 1
    h_all = np.broadcast_to(np.asarray(heights, dtype=np.int64), (n,)).copy()
    w_all = np.broadcast_to(np.asarray(widths, dtype=np.int64), (n,)).copy()
    k = np.diff(off)
    if np.any(k < 1):
        raise ValueError("every polygon needs at least one vertex")
    if np.any(h_all < 0) or np.any(w_all < 0):
        raise ValueError("image sizes must not be negative")
    if not np.isfinite(xy).all():
        raise ValueError("polygon coordinates must be finite")
    fast = native.rasterize(xy, off, np.arange(n + 1, dtype=np.int64), h_all, w_all)
    if fast is not None:
        return RleBatch(fast[0], fast[1], h_all, w_all)
    # Fine-grid vertices and the edge j -> j+1 (closing edge back to vertex 0),
    # oriented as pycocotools orients it before walking it.
    x = _round_half_up_trunc(_SCALE * xy[:, 0])
    y = _round_half_up_trunc(_SCALE * xy[:, 1])
    nxt = np.arange(xy.shape[0], dtype=np.int64) + 1
    nxt[off[1:] - 1] = off[:-1]
    xs, ys, xe, ye = x, y, x[nxt], y[nxt]
    dx, dy = np.abs(xe - xs), np.abs(ys - ye)
    along_x = dx >= dy
    flip = (along_x & (xs > xe)) | (~along_x & (ys > ye))
    xs, xe = np.where(flip, xe, xs), np.where(flip, xs, xe)
    ys, ye = np.where(flip, ye, ys), np.where(flip, ys, ye)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(along_x, (ye - ys) / dx, (xe - xs) / dy)
    # Only crossings of fine column u' -> u'+1 with u' = 5 * col + 2 (a pixel
    # centre) survive pycocotools' ``floor(xd) == xd`` test, so only those are
    # generated: per edge, every such u' strictly inside its x extent.
    ring = segment_ids(k)
    w_edge = w_all[ring]
    lo = np.maximum(np.minimum(xs, xe), 2)
    hi = np.minimum(np.maximum(xs, xe) - 1, 5 * (w_edge - 1) + 2)
    first_col = -((2 - lo) // 5)  # ceil((lo - 2) / 5)
    last_col = (hi - 2) // 5
    ncross = np.where(dx > 0, np.maximum(last_col - first_col + 1, 0), 0)
    edge = segment_ids(ncross)
    col = ranges(first_col, ncross)
    u_lo = 5 * col + 2
    rows = np.empty(edge.shape[0], dtype=np.int64)
    # Along x the crossing lies between t and t+1 with t = u' - xs; its row is
    # the smaller of the two DDA rows there.
    ix = np.flatnonzero(along_x[edge])
    e = edge[ix]
    t = (u_lo[ix] - xs[e]).astype(np.float64)
    ys_f, s_e = ys[e].astype(np.float64), slope[e]
    rows[ix] = np.minimum(
        _round_half_up_trunc(ys_f + s_e * t), _round_half_up_trunc(ys_f + s_e * (t + 1.0))
    )
    # Along y rows step by one and the column changes at most once per step:
    # find the last t still on the near side of u' (estimate, then verify with
    # pycocotools' own rounding and step by one where the estimate was off).
    iy = np.flatnonzero(~along_x[edge])
    e = edge[iy]
    target = u_lo[iy]
    xs_f, s_e = xs[e].astype(np.float64), slope[e]
    t_y = np.clip(np.floor((target + 0.5 - xs_f) / s_e), 0, dy[e] - 1).astype(np.int64)
    rising = s_e > 0
    for _ in range(_SEARCH_STEPS):
        u0 = _round_half_up_trunc(xs_f + s_e * t_y.astype(np.float64))
        u1 = _round_half_up_trunc(xs_f + s_e * (t_y + 1).astype(np.float64))
        near_ok = np.where(rising, u0 <= target, u0 > target)
        far_ok = np.where(rising, u1 > target, u1 <= target)
        if near_ok.all() and far_ok.all():
            break
        t_y = np.where(near_ok, np.where(far_ok, t_y, t_y + 1), t_y - 1)
    else:  # float rounding near 1e14 and beyond can hold the estimate on a tie
        raise ValueError("polygon coordinates too large to rasterise exactly")
    rows[iy] = ys[e] + t_y
    yd = (rows.astype(np.float64) + 0.5) / _SCALE - 0.5
    pr = ring[edge]
    yd = np.ceil(np.clip(yd, 0.0, h_all[pr].astype(np.float64)))
    position = col * h_all[pr] + yd.astype(np.int64)
    counts, offsets = _rle_from_boundaries(pr, position, n, h_all * w_all)
    return RleBatch.from_run_lengths(counts, offsets, np.stack([h_all, w_all], 1), validate=False)


def union_groups(batch: RleBatch, group_offsets: ArrayLike) -> RleBatch:
    """Union of consecutive masks, like ``mask.merge(rles, intersect=0)`` per group.

    Args:
        batch: masks (n,); those of one group share a size.
        group_offsets: int64 (g+1,); group i is masks ``off[i]:off[i+1]``, none empty.

    Returns:
        g masks. A single-mask group is returned unchanged (as pycocotools does);
        larger groups give the canonical RLE of the union.
    """
    goff = np.asarray(group_offsets, dtype=np.int64).reshape(-1)
    g = goff.shape[0] - 1
    sizes = np.diff(goff)
    if np.any(sizes < 1):
        raise ValueError("every group needs at least one mask")
    group_of_mask = segment_ids(sizes)
    first = goff[:-1]
    heights, widths = batch.heights[first], batch.widths[first]
    if np.any(batch.heights != heights[group_of_mask]) or np.any(
        batch.widths != widths[group_of_mask]
    ):
        raise ValueError("masks merged into one must share a size")
    single = sizes == 1
    if single.all():
        return batch
    c = batch.counts.astype(np.int64)
    run_owner = segment_ids(batch.run_counts)
    local = np.arange(c.shape[0]) - batch.offsets[run_owner]
    end = batch.run_ends()
    fg = ((local % 2) == 1) & (c > 0)
    grp = group_of_mask[run_owner[fg]]
    s, e = end[fg] - c[fg], end[fg]
    # Sweep: +1 at starts, -1 at ends; starts first at equal positions so that
    # touching intervals merge, as rleMerge emits a run only when the value flips.
    ev_grp = np.concatenate([grp, grp])
    ev_pos = np.concatenate([s, e])
    ev_kind = np.concatenate([np.zeros_like(s), np.ones_like(e)])
    ev_grp, ev_pos, ev_kind = _sort_by_owner(ev_grp, ev_pos, ev_kind)
    ev_step = 1 - 2 * ev_kind
    cover = np.cumsum(ev_step)  # each group's events sum to 0, so no per-group reset
    before = cover - ev_step
    toggles = ((before == 0) & (cover > 0)) | ((before > 0) & (cover == 0))
    counts, offsets = _rle_from_boundaries(ev_grp[toggles], ev_pos[toggles], g, heights * widths)
    return RleBatch.from_run_lengths(
        counts, offsets, np.stack([heights, widths], 1), validate=False
    )


def rle_from_polygons(
    objects: Sequence[Sequence[Sequence[float]]], heights: ArrayLike, widths: ArrayLike
) -> RleBatch:
    """COCO polygon segmentations to one RLE each: ``merge(frPyObjects(parts, h, w))``.

    Args:
        objects: n objects, each a list of parts, each part a flat list
            [x1, y1, x2, y2, ...]; an odd trailing number is ignored, as in
            pycocotools.
        heights: int64 (n,) or scalar image heights.
        widths: int64 (n,) or scalar image widths.

    Raises:
        ValueError: an object without parts or a part with fewer than 4 numbers.
    """
    n = len(objects)
    h_obj = np.broadcast_to(np.asarray(heights, dtype=np.int64), (n,))
    w_obj = np.broadcast_to(np.asarray(widths, dtype=np.int64), (n,))
    parts_per_object = np.fromiter(map(len, objects), dtype=np.int64, count=n)
    if (parts_per_object == 0).any():
        i = int(np.argmax(parts_per_object == 0))
        raise ValueError(f"object {i}: a polygon segmentation needs at least one part")
    part_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(parts_per_object, out=part_off[1:])
    parts = list(chain.from_iterable(objects))
    numbers = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    if (numbers < 4).any():
        p = int(np.argmax(numbers < 4))
        i = int(np.searchsorted(part_off, p, side="right") - 1)
        raise ValueError(f"object {i} part {p - part_off[i]}: a polygon needs at least 2 points")
    flat = np.fromiter(chain.from_iterable(parts), dtype=np.float64, count=int(numbers.sum()))
    if (numbers & 1).any():  # drop each odd part's trailing number
        ends = np.cumsum(numbers)
        flat = np.delete(flat, ends[(numbers & 1) == 1] - 1)
    vertex_counts = numbers >> 1
    vertices = flat.reshape(-1, 2)
    vertex_off = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(vertex_counts, out=vertex_off[1:])
    if np.isfinite(flat).all() and (h_obj >= 0).all() and (w_obj >= 0).all():
        fast = native.rasterize(vertices, vertex_off, part_off, h_obj, w_obj)
        if fast is not None:
            counts, offsets = fast
            return RleBatch(counts, offsets, h_obj.copy(), w_obj.copy())
    owner = segment_ids(parts_per_object)
    # Work per object ~ its column crossings ~ the x distance its edges travel.
    with np.errstate(invalid="ignore"):
        travel = np.nan_to_num(np.abs(np.diff(vertices[:, 0], append=0.0)), posinf=0.0)
    per_part = np.add.reduceat(np.r_[travel, 0.0], vertex_off[:-1]) if len(parts) else travel
    per_object = np.add.reduceat(np.r_[per_part, 0.0], part_off[:-1]) if n else per_part
    weight = np.minimum(per_object, 1e12).astype(np.int64) + 1
    batches = []
    for first, stop in chunks(weight):
        p0, p1 = part_off[first], part_off[stop]
        v0, v1 = vertex_off[p0], vertex_off[p1]
        rasterized = rasterize_polygons(
            vertices[v0:v1], vertex_off[p0 : p1 + 1] - v0, h_obj[owner[p0:p1]], w_obj[owner[p0:p1]]
        )
        batches.append(union_groups(rasterized, part_off[first : stop + 1] - p0))
    if len(batches) == 1:
        return batches[0]
    return RleBatch.concat(batches)


def rle_from_boxes(boxes: ArrayLike, heights: ArrayLike, widths: ArrayLike) -> RleBatch:
    """Boxes float64 (n, 4) [x, y, w, h] to masks, as ``mask.frBbox``."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x0, y0, x1, y1 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    ring = np.stack([x0, y0, x0, y1, x1, y1, x1, y0], axis=1).reshape(-1, 2)
    n = b.shape[0]
    return rasterize_polygons(ring, np.arange(n + 1) * 4, heights, widths)
