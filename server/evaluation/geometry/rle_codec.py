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

from sliceboard.evaluation.geometry import native
from sliceboard.evaluation.geometry.kernel import chunks, segment_ids

_MAX_TOKEN_CHARS = 7  # 35 bits: any uint32 run length or delta fits
_UINT32_LIMIT = 1 << 32


def _undo_deltas(values: NDArray[np.int64], offsets: NDArray[np.int64]) -> None:
    """Undoes the delta trick in place: ``v[m] += v[m - 2]`` for local index m > 2.

    Per string the runs at local indices 1, 3, 5, ... and 2, 4, 6, ... are two
    running sums. On the whole array, the elements of one global parity are a
    strided view, and each string's chains are contiguous stretches of it; one
    in-place cumsum per view does every chain of every string, once the first
    element of each chain has been lowered by the sum of the view before it
    (``add.reduceat`` over the stretches between chain starts). Local index 0
    belongs to no chain: it is saved and written back.

    Args:
        values: int64 (R,), the decoded numbers of all strings concatenated.
        offsets: int64 (n+1,), where each string's numbers start.
    """
    lengths = np.diff(offsets)
    first = offsets[:-1][lengths > 0]
    if first.size == 0:
        return
    saved = values[first]
    chain_starts = np.concatenate([offsets[:-1][lengths > 1] + 1, offsets[:-1][lengths > 2] + 2])
    for parity in (0, 1):
        view = values[parity::2]
        at = np.sort(chain_starts[(chain_starts & 1) == parity]) >> 1
        if at.size == 0:
            continue
        totals = np.add.reduceat(view, at)[:-1]  # each chain's stretch up to the next start
        head = int(view[: at[0]].sum())
        view[at[1:]] -= totals
        view[at[0]] -= head
        np.cumsum(view, out=view)
    values[first] = saved


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
    counts, offsets = decode_strings_uint32(strings)
    return counts.astype(np.int64), offsets


def decode_strings_uint32(
    strings: Sequence[str | bytes],
) -> tuple[NDArray[np.uint32], NDArray[np.int64]]:
    """``decode_strings`` with uint32 run lengths, the dtype ``RleBatch`` stores.

    Strings are joined, encoded and decoded a chunk at a time into one output
    allocated for the worst case (a number per character) and shrunk in place
    at the end, so besides the output only O(chunk) memory is used: no copy of
    all the text, no list of parts to concatenate.
    """
    n = len(strings)
    char_lengths = np.fromiter(map(len, strings), dtype=np.int64, count=n)
    decoded = native.decode_strings(strings, int(char_lengths.sum()))
    if decoded is not None:
        return decoded
    counts = np.empty(int(char_lengths.sum()), dtype=np.uint32)
    offsets = np.zeros(n + 1, dtype=np.int64)
    filled = 0
    for first, stop in chunks(char_lengths):
        raw = np.frombuffer(_ascii(strings[first:stop], first), dtype=np.uint8)
        try:
            c, off = _decode(raw, char_lengths[first:stop])
        except _BadString as bad:
            raise ValueError(f"RLE string {first + bad.index}: {bad.reason}") from None
        counts[filled : filled + c.shape[0]] = c
        offsets[first + 1 : stop + 1] = off[1:] + filled
        filled += c.shape[0]
    counts.resize(filled, refcheck=False)  # no views of it exist; realloc frees the tail
    return counts, offsets


def _ascii(strings: Sequence[str | bytes], first: int) -> bytes:
    """The strings (numbered from ``first`` in errors) joined as ASCII bytes.

    One ``join`` (and one ``encode``) when all are ``str`` or all are ``bytes``
    (pycocotools' own type); a string that is not ASCII is found from the
    encoder's error position, a byte outside the alphabet by ``_decode``.
    """
    try:
        text = "".join(strings)  # type: ignore[arg-type]  # TypeError if any is bytes
    except TypeError:
        try:
            return b"".join(strings)  # type: ignore[arg-type]  # TypeError if any is str
        except TypeError:
            pass
    else:
        try:
            return text.encode("ascii")
        except UnicodeEncodeError as err:
            ends = np.cumsum(np.fromiter(map(len, strings), dtype=np.int64, count=len(strings)))
            i = first + int(np.searchsorted(ends, err.start, side="right"))
            raise ValueError(f"RLE string {i}: character outside the COCO alphabet") from None
    raw: list[bytes] = []
    for i, s in enumerate(strings):
        try:
            raw.append(s.encode("ascii") if isinstance(s, str) else bytes(s))
        except UnicodeEncodeError:
            raise ValueError(
                f"RLE string {first + i}: character outside the COCO alphabet"
            ) from None
    return b"".join(raw)


class _BadString(Exception):
    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index, self.reason = index, reason


def _decode(
    raw: NDArray[np.uint8], char_lengths: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """``decode_strings`` for one chunk; raises _BadString with the chunk-local index."""
    n = char_lengths.shape[0]
    char_bounds = np.r_[0, np.cumsum(char_lengths)]
    if char_bounds[-1] == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(n + 1, dtype=np.int64)

    def owner(char: int) -> int:
        return int(np.searchsorted(char_bounds, char, side="right") - 1)

    if raw.min() < 48 or raw.max() > 111:
        bad = int(np.argmax((raw < 48) | (raw > 111)))
        raise _BadString(owner(bad), "character outside the COCO alphabet (ASCII 48..111)")
    more = raw >= 80  # the continuation bit 0x20 of the character minus 48
    last = char_bounds[1:][char_lengths > 0] - 1
    if more[last].any():
        raise _BadString(owner(int(last[np.argmax(more[last])])), "ends inside a number")
    # Numbers are read from their last character (signed) towards their first,
    # value = value * 32 + digit; only the few multi-character numbers loop.
    ends = np.flatnonzero(~more)
    # the last character is a signed 5-bit digit d: (d ^ 16) - 16 sign-extends bit 0x10
    last_digit = raw[ends] - np.uint8(48)
    last_digit ^= np.uint8(0x10)
    value = last_digit.astype(np.int64)
    value -= 0x10
    cont = np.flatnonzero(more)  # continuation characters, ~5% of all
    if cont.size:
        token = cont - np.arange(cont.shape[0])  # numbers ending before a character
        new = np.r_[True, token[1:] != token[:-1]]
        run_start = np.flatnonzero(new)
        run_len = np.diff(np.r_[run_start, cont.shape[0]])
        if run_len.max() >= _MAX_TOKEN_CHARS:
            at = int(cont[run_start[np.argmax(run_len >= _MAX_TOKEN_CHARS)]])
            raise _BadString(owner(at), f"a number longer than {_MAX_TOKEN_CHARS} characters")
        tokens = token[run_start]
        low = (raw[cont] - np.uint8(80)).astype(np.int64)  # the 5 payload bits
        back = run_start + run_len  # walks from each number's last continuation character
        for _ in range(int(run_len.max())):
            back -= 1
            keep = back >= run_start
            tokens, back, run_start = tokens[keep], back[keep], run_start[keep]
            value[tokens] = value[tokens] * 32 + low[back]
    offsets: NDArray[np.int64] = np.asarray(np.searchsorted(ends, char_bounds), dtype=np.int64)
    _undo_deltas(value, offsets)
    if value.min() < 0 or value.max() >= _UINT32_LIMIT:
        out_of_range = (value < 0) | (value >= _UINT32_LIMIT)
        i = int(segment_ids(np.diff(offsets))[np.argmax(out_of_range)])
        raise _BadString(i, "a run length outside [0, 2**32)")
    return value, offsets


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
