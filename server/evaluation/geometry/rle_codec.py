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

from server.evaluation.geometry.kernel import segment_ids

_MAX_TOKEN_CHARS = 7  # 35 bits: any uint32 run length or delta fits
_UINT32_LIMIT = 1 << 32


def _chain_cumsum(values: NDArray[np.int64], offsets: NDArray[np.int64]) -> NDArray[np.int64]:
    """Undoes the delta trick: ``out[m] = values[m] + out[m - 2]`` for local index m > 2.

    The odd runs (1, 3, 5, ...) and the even runs from index 2 on form two
    running sums per string; each is one global cumsum minus its value at the
    string's start.

    Args:
        values: int64 (R,), the decoded numbers of all strings concatenated.
        offsets: int64 (n+1,), where each string's numbers start.
    """
    lengths = np.diff(offsets)
    local = np.arange(values.shape[0], dtype=np.int64) - np.repeat(offsets[:-1], lengths)
    odd = (local & 1) == 1
    out = values.copy()
    for chain in (odd, ~odd & (local >= 2)):
        csum = np.cumsum(np.where(chain, values, 0))
        before = np.concatenate([np.zeros(1, np.int64), csum])[offsets[:-1]]
        out[chain] = (csum - np.repeat(before, lengths))[chain]
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
    n = len(raw)
    char_lengths = np.fromiter((len(s) for s in raw), dtype=np.int64, count=n)
    buf = np.frombuffer(b"".join(raw), dtype=np.uint8).astype(np.int64) - 48
    if buf.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(n + 1, dtype=np.int64)
    owner_char = segment_ids(char_lengths)
    bad = (buf < 0) | (buf > 63)
    if bad.any():
        i = int(owner_char[np.argmax(bad)])
        raise ValueError(f"RLE string {i}: character outside the COCO alphabet (ASCII 48..111)")
    last = np.cumsum(char_lengths) - 1
    nonempty = char_lengths > 0
    cut = nonempty & ((buf[np.maximum(last, 0)] & 0x20) != 0)
    if cut.any():
        raise ValueError(f"RLE string {int(np.argmax(cut))}: ends inside a number")
    ends = np.flatnonzero((buf & 0x20) == 0)
    token_start = np.r_[0, ends[:-1] + 1]
    token_len = ends - token_start + 1
    if token_len.max() > _MAX_TOKEN_CHARS:
        i = int(owner_char[token_start[np.argmax(token_len > _MAX_TOKEN_CHARS)]])
        raise ValueError(f"RLE string {i}: a number longer than {_MAX_TOKEN_CHARS} characters")
    position = np.arange(buf.shape[0], dtype=np.int64) - np.repeat(token_start, token_len)
    payload = (buf & 0x1F) << (5 * position)
    value = np.add.reduceat(payload, token_start)
    negative = (buf[ends] & 0x10) != 0
    value -= np.where(negative, np.left_shift(1, 5 * token_len), 0)
    tokens_per_string = np.bincount(owner_char[ends], minlength=n).astype(np.int64)
    offsets = np.r_[0, np.cumsum(tokens_per_string)].astype(np.int64)
    counts = _chain_cumsum(value, offsets)
    out_of_range = (counts < 0) | (counts >= _UINT32_LIMIT)
    if out_of_range.any():
        i = int(segment_ids(tokens_per_string)[np.argmax(out_of_range)])
        raise ValueError(f"RLE string {i}: a run length outside [0, 2**32)")
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
