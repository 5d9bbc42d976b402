r"""Pure string helpers that read a model response: its final answer and whether it reasons in code.

Where the final answer is depends on how the model was prompted, its *answer format*:

- ``boxed``: chat and Qwen-Math prompts ask for ``\boxed{}``; the answer is the content of the last box.
- ``answer_tag``: base models without a chat template get the R1-style prompt ("... <think> reasoning
  process here </think> <answer> answer here </answer>") and stop at ``</answer>``, which is kept in
  the output; the answer is the last ``<answer>...</answer>`` span: its last ``\boxed{}`` if it has
  one, else its stripped text.

It also tells a looping response (``has_repeated_block``), for the paper's no-repetition reward.

Nothing here imports math-verify, so these run in the trainer process at no cost; only the symbolic
comparison of an extracted answer with the gold one is sent to the grader's worker processes.
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Callable, NamedTuple

import numpy as np

from rlvr.registry import Registry

# `\boxed{..}`, `\boxed {..}` and `\fbox{..}`; the opening brace is part of the match so that the
# balanced-brace scan starts right after it. `\boxed 5` (no braces) is legal LaTeX but Qwen-Math
# does not write it, so it is not matched.
_BOXED_OPEN = re.compile(r"\\(?:boxed|fbox)\s*\{")


def has_boxed(text: str) -> bool:
    r"""Whether the response opens a ``\boxed{`` at all, complete or not.

    >>> has_boxed(r"so \boxed{12"), has_boxed("The answer is 12")
    (True, False)
    """
    return _BOXED_OPEN.search(text) is not None


def last_boxed(text: str) -> str | None:
    r"""Content of the last ``\boxed{...}`` (or ``\fbox{...}``), nested braces kept.

    ``None`` when there is no box or the last one never closes: a response cut at the length limit
    has not given its final answer, even if an earlier box did.
    Escaped braces (``\{``, ``\}``) are content, not structure, so sets such as ``\{1, 2\}`` and a
    one-sided ``\left\{ ... \right.`` do not confuse the scan.

    >>> last_boxed(r"so the answer is \boxed{\frac{1}{2}}.")
    '\\frac{1}{2}'
    >>> last_boxed(r"\boxed{1} then \boxed {\{1, 2\}}")
    '\\{1, 2\\}'
    >>> last_boxed(r"\boxed{3} ... \boxed{12") is None  # truncated
    True
    >>> last_boxed("The answer is 5") is None
    True
    """
    opens = list(_BOXED_OPEN.finditer(text))
    if not opens:
        return None
    start = opens[-1].end()
    end = _closing_brace(text, start)
    return None if end is None else text[start:end]


def _closing_brace(text: str, start: int) -> int | None:
    """Index of the brace that closes the group opened just before ``start``; None if it never closes."""
    depth = 1
    i = start
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2  # a command or an escaped character, e.g. `\{` or `\\`: never a group brace
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


_ANSWER_OPEN, _ANSWER_CLOSE = "<answer>", "</answer>"


def last_answer_span(text: str) -> str | None:
    """Text between the last ``<answer>`` and the ``</answer>`` that closes it, unstripped.

    ``None`` when there is no such span, or when the last ``<answer>`` opens after the last
    ``</answer>``: that answer was cut at the length limit, even if an earlier one closed (as for boxes).

    >>> last_answer_span("<think>2 * 6.4</think> <answer> 12.8 </answer>")
    ' 12.8 '
    >>> last_answer_span("<answer>1</answer> wait, <answer>2") is None  # truncated
    True
    >>> last_answer_span("<answer>12.8") is None, last_answer_span("12.8") is None
    (True, True)
    """
    close = text.rfind(_ANSWER_CLOSE)
    if close < 0 or text.rfind(_ANSWER_OPEN) > close:
        return None
    open_ = text.rfind(_ANSWER_OPEN, 0, close)
    return None if open_ < 0 else text[open_ + len(_ANSWER_OPEN) : close]


# answer format -> (response -> its final answer, or None when it gives none)
ANSWER_FORMATS: Registry[Callable[[str], str | None]] = Registry("answer format")


@ANSWER_FORMATS.register("boxed")
def boxed_answer(text: str) -> str | None:
    r"""The content of the last ``\boxed{}``; None without one, or if the last one never closes."""
    return last_boxed(text)


@ANSWER_FORMATS.register("answer_tag")
def tagged_answer(text: str) -> str | None:
    r"""The last ``<answer>...</answer>`` span's last ``\boxed{}``, or its stripped text if it has no box.

    A span whose box never closes gives no answer, as a truncated box does in the ``boxed`` format.

    >>> tagged_answer(r"<think>...</think> <answer>\boxed{12.8}</answer>"), tagged_answer("<answer> 12.8 </answer>")
    ('12.8', '12.8')
    >>> tagged_answer(r"<answer>\boxed{12</answer>") is None, tagged_answer(r"so \boxed{12.8}") is None
    (True, True)
    """
    span = last_answer_span(text)
    if span is None:
        return None
    boxed = last_boxed(span)
    if boxed is not None or has_boxed(span):
        return boxed
    return span.strip()


def extract_answer(response: str, answer_format: str = "boxed") -> str | None:
    r"""The response's final answer in ``answer_format`` (see the module docstring), or None.

    Unknown formats fail with the closest known names.

    >>> extract_answer(r"so \boxed{\frac{1}{2}}."), extract_answer("<answer>0.5</answer>", "answer_tag")
    ('\\frac{1}{2}', '0.5')
    >>> extract_answer("<answer>0.5</answer>", "answer_tags")
    Traceback (most recent call last):
    KeyError: "unknown answer format 'answer_tags'; did you mean 'answer_tag'? available: answer_tag, boxed"
    """
    return ANSWER_FORMATS.get(answer_format)(response)


def is_code_reasoning(text: str) -> bool:
    """The paper's rule for "code reasoning": the response mentions python, in any case.

    >>> is_code_reasoning("```python\\nprint(2 + 3)\\n```"), is_code_reasoning("By Vieta's formulas")
    (True, False)
    """
    return "python" in text.lower()


# --------------------------------------------------------------------------------------------------
# Degenerate repetition: the same block of characters over and over.


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
    layout = _block_layout(capacity, min_len, min(max_len, capacity // min_repeats), need)
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
