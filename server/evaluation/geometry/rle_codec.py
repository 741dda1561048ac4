"""COCO's compressed RLE strings, encoded and decoded for many masks at once.

The format is pycocotools' ``rleToString``/``rleFrString``: each run length is
written as a little-endian sequence of 6-bit characters (ASCII 48..111), five
payload bits per character, bit 0x20 meaning "more characters follow" and bit
0x10 of the last character carrying the sign. From the fourth run on
(index ``i > 2``) the value written is the difference to the run two places
back, which keeps the numbers small.

Everything here works on the concatenation of all strings, so the cost is a
handful of numpy passes over the characters, not a Python loop per character.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from server.evaluation.geometry.kernel import chunks, segment_ids

_MAX_TOKEN_CHARS = 7  # 35 bits: any uint32 run length or delta fits
_UINT32_LIMIT = 1 << 32


def _chain_cumsum(values: NDArray[np.int64], offsets: NDArray[np.int64]) -> NDArray[np.int64]:
    """Undoes the delta trick: ``out[m] = values[m] + out[m - 2]`` for local index m > 2.

    The odd runs (1, 3, 5, ...) and the even runs from index 2 on form two
    running sums per string. Each chain is one global cumsum in which the first
    element of every string carries minus the previous string's chain total,
    so the sum restarts there.

    Args:
        values: int64 (R,), the decoded numbers of all strings concatenated.
        offsets: int64 (n+1,), where each string's numbers start.
    """
    r = values.shape[0]
    starts = offsets[:-1][np.diff(offsets) > 0]
    if r == 0:
        return values.copy()
    # parity of the local index = parity of the global index xor of the string start
    flips = np.zeros(r, dtype=bool)
    start_parity = (starts & 1).astype(bool)
    flips[starts] = start_parity ^ np.r_[False, start_parity[:-1]]
    odd = np.logical_xor.accumulate(flips) ^ ((np.arange(r) & 1) == 1)
    even = ~odd
    even[starts] = False
    out = values.copy()
    for chain in (odd, even):
        part = np.where(chain, values, 0)
        totals = np.add.reduceat(part, starts)
        part[starts[1:]] = -totals[:-1]  # index 0 of a string is in neither chain
        csum = np.cumsum(part)
        out[chain] = csum[chain]
    return out


def decode_strings(
    strings: Sequence[str | bytes],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Decodes compressed COCO RLE strings into run lengths.

    Args:
        strings: n compressed ``counts`` strings (str or bytes).

    Returns:
        ``(counts, offsets)``: int64 (R,) run lengths of all strings concatenated
        and int64 (n+1,) offsets; string i owns ``counts[offsets[i]:offsets[i+1]]``.
        Run lengths are not yet checked against a size (see ``RleBatch``).

    Raises:
        ValueError: a character outside ASCII 48..111, a string cut inside a
            number, a number longer than 7 characters, or a run length outside
            [0, 2**32). The message names the string's index.
    """
    raw: list[bytes] = []
    for i, s in enumerate(strings):
        try:
            raw.append(s.encode("ascii") if isinstance(s, str) else bytes(s))
        except UnicodeEncodeError:
            raise ValueError(f"RLE string {i}: character outside the COCO alphabet") from None
    char_lengths = np.fromiter((len(s) for s in raw), dtype=np.int64, count=len(raw))
    counts: list[NDArray[np.int64]] = []
    offsets: list[NDArray[np.int64]] = [np.zeros(1, np.int64)]
    for first, stop in chunks(char_lengths):
        try:
            c, off = _decode(raw[first:stop], char_lengths[first:stop])
        except _BadString as bad:
            raise ValueError(f"RLE string {first + bad.index}: {bad.reason}") from None
        offsets.append(off[1:] + offsets[-1][-1])
        counts.append(c)
    return (
        np.concatenate(counts) if counts else np.zeros(0, np.int64),
        np.concatenate(offsets),
    )


class _BadString(Exception):
    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index, self.reason = index, reason


def _decode(
    raw: list[bytes], char_lengths: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """``decode_strings`` for one chunk; raises _BadString with the chunk-local index."""
    n = len(raw)
    char_bounds = np.r_[0, np.cumsum(char_lengths)]
    if char_bounds[-1] == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(n + 1, dtype=np.int64)

    def owner(char: int) -> int:
        return int(np.searchsorted(char_bounds, char, side="right") - 1)

    digits = np.frombuffer(b"".join(raw), dtype=np.uint8) - np.uint8(48)  # bad chars wrap > 63
    bad = digits > 63
    if bad.any():
        raise _BadString(
            owner(int(np.argmax(bad))), "character outside the COCO alphabet (ASCII 48..111)"
        )
    more = (digits & 0x20) != 0
    last = char_bounds[1:][char_lengths > 0] - 1
    if more[last].any():
        raise _BadString(owner(int(last[np.argmax(more[last])])), "ends inside a number")
    ends = np.flatnonzero(~more)
    token_start = np.r_[0, ends[:-1] + 1]
    token_len = ends - token_start + 1
    if token_len.max() > _MAX_TOKEN_CHARS:
        first_long = int(token_start[np.argmax(token_len > _MAX_TOKEN_CHARS)])
        raise _BadString(owner(first_long), f"a number longer than {_MAX_TOKEN_CHARS} characters")
    low = digits & 0x1F
    value = low[token_start].astype(np.int64)
    longer = np.flatnonzero(token_len > 1)  # most numbers are one character
    for k in range(1, int(token_len.max())):
        longer = longer[token_len[longer] > k]
        value[longer] += low[token_start[longer] + k].astype(np.int64) << (5 * k)
    negative = np.flatnonzero((digits[ends] & 0x10) != 0)
    value[negative] -= np.left_shift(1, 5 * token_len[negative])
    offsets: NDArray[np.int64] = np.asarray(np.searchsorted(ends, char_bounds), dtype=np.int64)
    tokens_per_string = np.diff(offsets)
    counts = _chain_cumsum(value, offsets)
    out_of_range = (counts < 0) | (counts >= _UINT32_LIMIT)
    if out_of_range.any():
        i = int(segment_ids(tokens_per_string)[np.argmax(out_of_range)])
        raise _BadString(i, "a run length outside [0, 2**32)")
    return counts, offsets


def encode_counts(counts: NDArray[np.integer], offsets: NDArray[np.int64]) -> list[str]:
    """Encodes run lengths as compressed COCO strings, bit-identical to ``rleToString``.

    Args:
        counts: (R,) non-negative run lengths of n masks concatenated.
        offsets: int64 (n+1,) where each mask's runs start.

    Returns:
        n ASCII strings.
    """
    c = np.asarray(counts, dtype=np.int64)
    lengths = np.diff(offsets)
    n = lengths.shape[0]
    if c.size == 0:
        return [""] * n
    owner = segment_ids(lengths)
    local = np.arange(c.shape[0], dtype=np.int64) - offsets[owner]
    x = c.copy()
    delta = np.flatnonzero(local > 2)
    x[delta] -= c[delta - 2]
    chars = np.zeros((c.shape[0], _MAX_TOKEN_CHARS), dtype=np.uint8)
    used = np.zeros((c.shape[0], _MAX_TOKEN_CHARS), dtype=bool)
    active = np.ones(c.shape[0], dtype=bool)
    for k in range(_MAX_TOKEN_CHARS):
        digit = x & 0x1F
        x >>= 5
        more = np.where((digit & 0x10) != 0, x != -1, x != 0)
        chars[:, k] = (digit | np.where(more, 0x20, 0)) + 48
        used[:, k] = active
        active &= more
        if not active.any():
            break
    token_chars = used.sum(axis=1)
    flat = chars[used].tobytes()
    string_chars = np.bincount(owner, weights=token_chars, minlength=n).astype(np.int64)
    bounds = np.r_[0, np.cumsum(string_chars)].tolist()
    return [flat[bounds[i] : bounds[i + 1]].decode("ascii") for i in range(n)]
