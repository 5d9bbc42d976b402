"""Degenerate repetition, the output of a policy stuck in a cycle: the same block of characters over and over.

For the paper's no-repetition reward (``rlvr.rewards.functions``). It decides that reward, not what the
grader calls correct, so it is no part of ``GRADER_VERSION``.
"""

from __future__ import annotations

import functools
import threading
from typing import NamedTuple

import numpy as np

__all__ = ["has_repeated_block"]


def has_repeated_block(text: str, *, min_len: int = 10, max_len: int = 256, min_repeats: int = 10) -> bool:
    r"""Whether ``text`` holds ``min_repeats`` consecutive copies of one block of ``min_len`` to ``max_len`` characters.

    The same as ``re.search(r"(.{10,256}?)\1{9,}", text, re.S)`` with the defaults, but fast on long
    responses (the regex tries every start and every length). Copies of a length-p block in a row
    are a stretch where ``text[j] == text[j + p]`` for ``(min_repeats - 1) * p`` consecutive j. A hash
    of the blocks that start at multiples of p finds the periods p that may have such a stretch
    (equal blocks always hash alike, so none is missed), and only those are checked character by
    character.

    >>> has_repeated_block("Let me compute. " * 10), has_repeated_block("Let me compute. " * 9)
    (True, False)
    >>> has_repeated_block("a" * 100), has_repeated_block("a" * 99)  # "aaaaaaaaaa" ten times
    (True, False)
    """
    if not (1 <= min_len <= max_len and min_repeats >= 2):
        raise ValueError(
            "repetition needs 1 <= min_len <= max_len and min_repeats >= 2; "
            f"got min_len={min_len}, max_len={max_len}, min_repeats={min_repeats}"
        )
    n = len(text)
    if n < min_len * min_repeats:
        return False
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")  # one code point each
    periods = _candidate_periods(codes, min_len, max_len, min_repeats)
    return any(_longest_match_run(codes, p) >= (min_repeats - 1) * p for p in periods)


def _longest_match_run(codes: np.ndarray, period: int) -> int:
    """The most consecutive j with ``codes[j] == codes[j + period]``."""
    same = np.concatenate(([False], codes[period:] == codes[:-period], [False]))
    edges = np.flatnonzero(same[1:] != same[:-1])  # run starts and ends, alternating
    return int((edges[1::2] - edges[::2]).max(initial=0))


def _candidate_periods(codes: np.ndarray, min_len: int, max_len: int, min_repeats: int) -> list[int]:
    """The periods p in [min_len, max_len] that may have ``min_repeats`` copies in a row: a superset of those that do.

    ``min_repeats`` copies of a length-p block span ``min_repeats * p`` characters, which contain at
    least ``min_repeats - 1`` whole blocks aligned at multiples of p, all equal: ``min_repeats - 2``
    equalities in a row between aligned neighbours. Blocks are compared by a polynomial hash mod
    2**64; a collision only costs an exact check.
    """
    n = len(codes)
    need = min_repeats - 2
    if need <= 0:
        return list(range(min_len, min(max_len, n // min_repeats) + 1))
    capacity = _capacity(n)
    # Periods up to what fits the capacity, not the text, so that the layout depends on the capacity only;
    # the few longer than n // min_repeats that may pass are rejected by the exact check.
    # A layout takes ~100 bytes per character: a long text's (hundreds of MB at megabytes) is built, not kept.
    layout_of = _block_layout if capacity <= _CACHED_CAPACITY else _block_layout.__wrapped__
    layout = layout_of(capacity, min_len, min(max_len, capacity // min_repeats), need)
    powers = _hash_powers(layout.capacity + 1)
    prefix = np.empty(layout.capacity + 1, dtype=np.uint64)
    prefix[0] = 0
    np.cumsum(codes.astype(np.uint64) * powers[:n], out=prefix[1 : n + 1])  # prefix[i] = sum_{j<i} code_j B^j
    prefix[n + 1 :] = prefix[n]  # blocks past the end are masked out below (window_end)
    # hash(block [a, b)) * B**a = prefix[b] - prefix[a]; scale the left block by B**p to compare it with the right one.
    block = np.diff(prefix[layout.bounds])  # [T - 1]
    same = block[:-1] * layout.shift == block[1:]  # [T - 2]
    hit = _all_in_windows(same, need) & layout.window_ok & (layout.window_end <= n)
    return np.unique(layout.window_period[hit]).tolist()


def _all_in_windows(x: np.ndarray, width: int) -> np.ndarray:
    """``out[i] = x[i : i + width].all()`` for every full window, in about log2(width) passes.

    >>> _all_in_windows(np.array([1, 1, 1, 0, 1, 1], dtype=bool), 2).tolist()
    [True, True, False, False, True]
    """
    covered = 1
    while covered < width:
        shift = min(covered, width - covered)
        x = x[:-shift] & x[shift:]  # x[i] = all of the original over [i, i + covered + shift)
        covered += shift
    return x


def _capacity(n: int) -> int:
    """``n`` rounded up by at most an eighth (and to a multiple of 256), so that a batch of responses
    shares a few cached layouts.

    >>> _capacity(1), _capacity(12_000), _capacity(100_000)
    (256, 12288, 106496)
    """
    step = max(256, 1 << max(0, n.bit_length() - 4))
    return -(-n // step) * step


class _BlockLayout(NamedTuple):
    """Aligned block boundaries for every period, flattened: period p contributes 0, p, 2p, ..., up to capacity.

    Windows are runs of ``need`` neighbour comparisons; one is valid when it stays within one
    period's boundaries (``window_ok``) and its last block ends by the text's end (``window_end``).
    """

    capacity: int
    bounds: np.ndarray  # [T] int: positions 0, p, 2p, ... for each period in turn
    shift: np.ndarray  # [T - 2] uint64: B**p for the period of each comparison
    window_ok: np.ndarray  # [T - 1 - need] bool
    window_end: np.ndarray  # [T - 1 - need] int: where the window's last block ends
    window_period: np.ndarray  # [T - 1 - need] int


_CACHED_CAPACITY = 1 << 16  # characters; a 4k-token response has ~15k


@functools.lru_cache(maxsize=32)
def _block_layout(capacity: int, min_len: int, max_len: int, need: int) -> _BlockLayout:
    periods = np.arange(min_len, max_len + 1)
    points = capacity // periods + 1  # boundaries per period
    period = np.repeat(periods, points)  # [T]
    index = np.arange(len(period)) - np.repeat(np.cumsum(points) - points, points)  # k of boundary k * p
    bounds = index * period
    windows = len(period) - 1 - need  # comparison i covers boundaries i, i + 1, i + 2
    last = np.arange(windows) + need + 1  # the last boundary a window reads
    return _BlockLayout(
        capacity=capacity,
        bounds=bounds,
        shift=_hash_powers(max_len + 1)[period[:-2]],
        window_ok=index[last] == index[: windows] + need + 1,  # no jump to the next period in between
        window_end=bounds[last],
        window_period=period[:windows],
    )


_HASH_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd, so every power of it is invertible mod 2**64
_powers = np.ones(1, dtype=np.uint64)
_powers_lock = threading.Lock()


def _hash_powers(n: int) -> np.ndarray:
    """At least n powers ``B**i mod 2**64`` (uint64 arithmetic wraps), grown and kept across calls."""
    global _powers
    with _powers_lock:
        if len(_powers) < n:
            size = max(n, 2 * len(_powers))
            _powers = np.concatenate(([np.uint64(1)], np.cumprod(np.full(size - 1, _HASH_BASE, dtype=np.uint64))))
        return _powers
