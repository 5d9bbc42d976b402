r"""Pure string helpers that read a model response: its final answer and whether it reasons in code.

Where the final answer is depends on how the model was prompted, its *answer format*
(``ANSWER_FORMATS``; a prompt names one, ``rlvr.config.PromptFormat.answer_format``):

- ``boxed``: chat and Qwen-Math prompts ask for ``\boxed{}``; the answer is the content of the last box.
- ``answer_tag``: base models without a chat template get the R1-style prompt ("... <think> reasoning
  process here </think> <answer> answer here </answer>") and stop at ``</answer>``, which is kept in
  the output. As the paper's training reads them (``qwen_math_parser.py: extract_answer`` with
  ``is_r1_style=True``): the text after the last ``<answer>`` (the whole response if there is none),
  read by ``answer_rules``: its last box, else what follows "the answer is", else its last number.
- ``answer_tag_strict``: only a closed ``<answer>...</answer>`` span gives an answer: its last
  ``\boxed{}`` if it has one, else its stripped text.
- ``answer_rules``: ``answer_rules`` on the whole response, which is how the paper's evaluation
  (``scripts/eval_checkpoint.py``, verify task ``math``) grades base models prompted with the R1 template:
  the answer format evaluation grades an ``answer_tag`` prompt with (``evaluation_format``).

The format reward checks a reading of its own (``format_answer``), the paper's "box only" one.
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


def after_answer_tag(text: str) -> str:
    """The text after the last ``<answer>`` (all of it if there is none), less a ``</answer>`` that ends it.

    Follows ``qwen_math_parser.py: extract_answer`` with ``is_r1_style=True``
    (``pred_str.split("<answer>")[-1].rstrip("</answer>")``).

    Differs from the official code: ``str.rstrip`` takes a set of characters, so the official code also
    strips the letters a, e, n, r, s, w (and ``<``, ``/``, ``>``) that end an answer: ``<answer>n</answer>``
    gives nothing there, ``even`` gives ``ev``. Here only the closing tag is removed.

    >>> after_answer_tag("<think>64 / 5</think> <answer>12.8</answer>"), after_answer_tag("64 / 5 = 12.8")
    ('12.8', '64 / 5 = 12.8')
    >>> after_answer_tag("<answer>1</answer> no: <answer>n</answer>"), after_answer_tag("<answer>12")
    ('n', '12')
    """
    return text.rpartition(_ANSWER_OPEN)[2].removesuffix(_ANSWER_CLOSE)


def box_content(text: str) -> str | None:
    r"""What the last ``boxed`` in ``text`` holds, as the paper's code reads a box; None if ``boxed`` never occurs.

    After ``boxed{``: up to the brace that closes it, or to the end if none does (a box cut at the length
    limit gives what it holds so far). After ``boxed`` without a brace (``\boxed 5``): up to the next ``$``,
    stripped. Any ``boxed`` counts, ``\boxed`` or not; ``\fbox`` does not. Follows
    ``qwen_math_parser.py: extract_answer`` (its ``"boxed" in pred_str`` branch) and ``extract_answer_box_only``.

    Differs from the official code: escaped braces (``\{``, ``\}``) are content, as in ``last_boxed``, so
    ``\boxed{\left\{ x \right.}`` closes at its last brace (the official scan reads it to the end).

    >>> box_content(r"so \boxed{\frac{1}{2}} and more"), box_content(r"$\boxed 5$ km"), box_content(r"\boxed{12")
    ('\\frac{1}{2}', '5', '12')
    >>> box_content("no box") is None, box_content(r"\boxed{3} then \boxed{")
    (True, '')
    """
    _, found, rest = text.rpartition("boxed")
    if not found:
        return None
    if rest.startswith("{"):
        end = _closing_brace(rest, 1)
        return rest[1:] if end is None else rest[1:end]
    return rest.split("$")[0].strip()


_LAST_NUMBER = re.compile(r"-?\d*\.?\d+")
_MINERVA_OPEN, _MINERVA_CLOSE = "final answer is $", "$. I hope"


def answer_by_rules(text: str) -> str | None:
    r"""The final answer as the paper's code reads it (Qwen2.5-Math's parser), or None if it finds none.

    The first rule that applies to ``text``: Minerva's "final answer is $...$. I hope"; the last box
    (``box_content``, complete or not); what follows the last "he answer is" ("The answer is", "the
    answer is"), else the last "final answer is", to the end of the text; what follows the first "答案是",
    up to the next one or a blank line; else the last number (commas dropped: ``10,080`` is 10080, and
    ``\frac{14}{3}`` gives 3). Then line breaks with the spaces after them are removed, and a leading ":"
    and trailing "." and "/" dropped. Follows ``qwen_math_parser.py: extract_answer`` for the ``math``
    task (with ``use_last_number``).

    Differs from the official code: the answer is not then rewritten by Qwen-Math's ``strip_string`` (units,
    ``\text{}``, spaces, word numbers, ...): the grader compares it with the gold answer its own way.

    >>> answer_by_rules(r"so $\boxed{\frac{1}{2}}$."), answer_by_rules("The answer is: 12.8."), answer_by_rules("1,200")
    ('\\frac{1}{2}', '12.8', '1200')
    >>> answer_by_rules(r"\frac{14}{3}"), answer_by_rules("I do not know") is None
    ('3', True)
    """
    text = text.replace("\u043a\u0438", "")  # "ки", Math-Shepherd's step tag: the official code drops it
    box = box_content(text)
    if _MINERVA_OPEN in text and _MINERVA_CLOSE in text:
        pred = text.split(_MINERVA_OPEN, 1)[1].split(_MINERVA_CLOSE, 1)[0].strip()
    elif box is not None:
        pred = box
    elif "he answer is" in text:
        pred = text.rpartition("he answer is")[2].strip()
    elif "final answer is" in text:
        pred = text.rpartition("final answer is")[2].strip()
    elif "答案是" in text:
        pred = text.split("答案是")[1].strip().split("\n\n")[0].strip()  # up to the next 答案是, as there
    else:
        numbers = _LAST_NUMBER.findall(text.replace(",", ""))
        pred = numbers[-1] if numbers else ""
    return _tidy(pred)


def _tidy(pred: str) -> str | None:
    """The official clean-up of an extracted answer (line breaks, a leading ":", trailing "." and "/"); None: blank."""
    pred = re.sub(r"\n\s*", "", pred).removeprefix(":").removesuffix(".").removesuffix("/")
    return pred.strip().rstrip(".").strip() or None  # strip_string's first steps: strip, then drop trailing dots


# answer format -> (response -> its final answer, or None when it gives none)
ANSWER_FORMATS: Registry[Callable[[str], str | None]] = Registry("answer format")


@ANSWER_FORMATS.register("boxed", version=1)
def boxed_answer(text: str) -> str | None:
    r"""The content of the last ``\boxed{}``; None without one, or if the last one never closes."""
    return last_boxed(text)


@ANSWER_FORMATS.register("answer_tag", version=2)
def tagged_answer(text: str) -> str | None:
    r"""``answer_by_rules`` on the text after the last ``<answer>`` (the whole response without one).

    The paper's training reward for the R1 template (verify task ``math_r1_style``): a bare answer in the
    span is read by its last number, so ``<answer>\frac{14}{3}</answer>`` gives 3, and a response cut
    before ``</answer>`` (or without tags) still gives an answer. Version 1 was ``answer_tag_strict``.

    >>> tagged_answer(r"<think>...</think> <answer>\boxed{12.8}</answer>"), tagged_answer("<answer> 12.8 </answer>")
    ('12.8', '12.8')
    >>> tagged_answer(r"<answer>\frac{14}{3}</answer>"), tagged_answer(r"no tags, so \boxed{12")
    ('3', '12')
    """
    return answer_by_rules(after_answer_tag(text))


@ANSWER_FORMATS.register("answer_tag_strict", version=1)
def strict_tagged_answer(text: str) -> str | None:
    r"""The last ``<answer>...</answer>`` span's last ``\boxed{}``, or its stripped text if it has no box.

    None without a closed span; a span whose box never closes gives no answer, as a truncated box does
    in the ``boxed`` format. Stricter than the paper's code (``answer_tag``).

    >>> strict_tagged_answer(r"<answer>\boxed{12.8}</answer>"), strict_tagged_answer(r"<answer>\frac{14}{3}</answer>")
    ('12.8', '\\frac{14}{3}')
    >>> strict_tagged_answer(r"<answer>\boxed{12</answer>") is None, strict_tagged_answer(r"so \boxed{12.8}") is None
    (True, True)
    """
    span = last_answer_span(text)
    if span is None:
        return None
    boxed = last_boxed(span)
    if boxed is not None or has_boxed(span):
        return boxed
    return span.strip()


ANSWER_FORMATS.register("answer_rules", version=1)(answer_by_rules)


def box_only_answer(text: str) -> str | None:
    r"""The format reward's reading of a ``boxed`` response: the last box's content (``box_content``, complete
    or not), tidied; None without a box or if it is blank. Follows ``qwen_math_parser.py: extract_answer_box_only``.

    Differs from the official code: a blank box is one that holds only spaces, dots and dollar signs;
    Qwen-Math's ``strip_string`` also blanks a few more (``\boxed{\text{ }}``, ``\boxed{km}``).
    """
    content = box_content(text)
    return None if content is None or not _tidy(content.replace("$", "")) else _tidy(content)


def _nonempty_after_answer_tag(text: str) -> str | None:
    return after_answer_tag(text) or None


def _nonblank_strict_answer(text: str) -> str | None:
    return (strict_tagged_answer(text) or "").strip() or None


# answer format -> what the format reward checks in it (not None: formatted). The paper's format reward is
# `box_only_format`; for the R1 template (`_r1_style`) its reading is the raw text after the last <answer>,
# so any response with text there, spaces included, is formatted.
_FORMAT_READINGS: dict[str, Callable[[str], str | None]] = {
    "boxed": box_only_answer,
    "answer_tag": _nonempty_after_answer_tag,
    "answer_tag_strict": _nonblank_strict_answer,  # a closed, non-blank span
    "answer_rules": box_only_answer,
}

# answer format -> the one evaluation grades with, where they differ: the paper's evaluation script grades
# base models prompted with the R1 template on the whole response (verify task `math`, not `math_r1_style`).
EVALUATION_FORMATS: dict[str, str] = {"answer_tag": "answer_rules"}


def extract_answer(response: str, answer_format: str = "boxed") -> str | None:
    r"""The response's final answer in ``answer_format`` (see the module docstring), or None.

    Unknown formats fail with the closest known names.

    >>> extract_answer(r"so \boxed{\frac{1}{2}}."), extract_answer("<answer>0.5</answer>", "answer_tag")
    ('\\frac{1}{2}', '0.5')
    >>> extract_answer("<answer>0.5</answer>", "answer_tags")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    KeyError: "unknown answer format 'answer_tags'; did you mean 'answer_tag', ...? available: answer_rules, ..."
    """
    return ANSWER_FORMATS.get(answer_format)(response)


def format_answer(response: str, answer_format: str = "boxed") -> str | None:
    r"""What the format reward finds in ``response`` in ``answer_format``; None: not formatted.

    >>> format_answer(r"\boxed 5"), format_answer(r"cut in its box: \boxed{12"), format_answer(r"\boxed{ }")
    ('5', '12', None)
    >>> format_answer("<answer>no idea", "answer_tag"), format_answer("<answer>no idea", "answer_tag_strict")
    ('no idea', None)
    """
    ANSWER_FORMATS.entry(answer_format)  # did-you-mean error
    return _FORMAT_READINGS[answer_format](response)


def evaluation_format(answer_format: str) -> str:
    """The answer format evaluation grades a prompt in ``answer_format`` with (``EVALUATION_FORMATS``).

    >>> evaluation_format("answer_tag"), evaluation_format("answer_tag_strict"), evaluation_format("boxed")
    ('answer_rules', 'answer_tag_strict', 'boxed')
    """
    ANSWER_FORMATS.entry(answer_format)  # did-you-mean error
    return EVALUATION_FORMATS.get(answer_format, answer_format)


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
