r"""What decides whether an answer equals the gold one: the string rules, then math-verify.

The string rules (``rlvr.rewards.equivalence.string_verdict``) settle most pairs without sympy. What
they leave, math-verify compares, on the answers after ``rewrite_for_parsing`` (spellings it misreads,
such as ``10\,080``), with parsed answers cached per process and a numeric check that skips sympy's
``simplify`` for answers whose values differ.

math-verify can spend unbounded time in sympy on a pathological answer (``\boxed{9^{9^{9^9}}}``).
Its own timeouts use ``signal.alarm``, which only works in the main thread and can interrupt code
that does not expect it, so they are turned off here (``parsing_timeout=None``,
``timeout_seconds=None``): the functions below run without a deadline, and
``rlvr.rewards.grader.GraderPool`` runs them in worker processes that are killed when they overrun.

math-verify and sympy are imported inside the functions that need them, so that importing this
module (as every process that builds a reward does) costs nothing until something is graded.
"""

from __future__ import annotations

import cmath
import functools
import logging
import re
from typing import Any, Sequence

from rlvr.rewards.equivalence import rewrite_for_parsing, string_verdict

# math-verify's LaTeX extraction only looks between delimiters; `\$` is an escaped dollar sign.
_DELIMITED = re.compile(r"(?<!\\)\$|\\\(|\\\[")


def _as_latex(text: str) -> str:
    return text if _DELIMITED.search(text) else f"${text}$"


def _answer_latex(answer: str) -> str:
    """An answer as math-verify should read it: rewritten, then between math delimiters."""
    return _as_latex(rewrite_for_parsing(answer))


@functools.cache
def _extraction_config() -> tuple[Any, ...]:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    return (LatexExtractionConfig(), ExprExtractionConfig())


def _parse(text: str) -> tuple[Any, ...]:
    """math-verify's readings of ``text`` (its extraction, then its LaTeX parser)."""
    from math_verify import parse

    return tuple(parse(text, extraction_config=_extraction_config(), parsing_timeout=None))


# Answers are short; whole responses are not cached (16k of them could hold hundreds of MB).
_CACHED_ANSWER_CHARS = 1_000


@functools.lru_cache(maxsize=16_384)
def _parse_answer_cached(text: str) -> tuple[Any, ...]:
    return _parse(text)


def _parse_answer(text: str) -> tuple[Any, ...]:
    """``_parse`` of a gold or extracted answer, cached: a gold answer is parsed once per worker, not
    once per response graded against it (sympy objects are immutable, so sharing them is safe)."""
    return _parse_answer_cached(text) if len(text) <= _CACHED_ANSWER_CHARS else _parse(text)


def _value_at(expr: Any, point: dict) -> complex | None:
    """``expr``'s value with its symbols set to ``point``, or None where it has none (or not a finite one)."""
    try:
        value = complex(expr.evalf(30, subs=point))
    except (TypeError, ValueError, OverflowError, ArithmeticError):
        return None
    return value if cmath.isfinite(value) else None


# Where two expressions in the same symbols are compared, in tenths: one value per symbol at each
# point, none that answers are special at (0, 1, -1).
_PROBES = ((7, 13, 23, 31), (17, 3, 29, 11))


def _clearly_unequal(gold: Any, pred: Any) -> bool:
    """Two expressions that math-verify cannot call equal: in the same symbols (or none), with values
    at one point farther apart than its rounding to 6 places allows. Equal expressions agree at every
    point, so this only skips the slow symbolic ``simplify`` that would end in "not equal".

    Not for a bare symbol (math-verify matches ``\\text{east}`` with the letters e*a*s*t as text),
    percentages (it compares "50\\%" with 50 by its own rule), sets, relations or matrices.
    """
    from sympy import Expr, Rational, Symbol, UnevaluatedExpr

    if not (isinstance(gold, Expr) and isinstance(pred, Expr)) or isinstance(gold, Symbol) or isinstance(pred, Symbol):
        return False
    if gold.has(UnevaluatedExpr) or pred.has(UnevaluatedExpr) or gold.free_symbols != pred.free_symbols:
        return False
    symbols = sorted(gold.free_symbols, key=str)
    if len(symbols) > len(_PROBES[0]):
        return False
    for probe in _PROBES[: 1 if not symbols else None]:
        point = {symbol: Rational(tenths, 10) for symbol, tenths in zip(symbols, probe)}
        a, b = _value_at(gold, point), _value_at(pred, point)
        if a is not None and b is not None and abs(a - b) > 1e-6 + 1e-9 * max(abs(a), abs(b)):
            return True
    return False


def _verify(gold: Sequence[Any], pred: Sequence[Any]) -> bool:
    from math_verify import verify

    # Not symmetric: math-verify wants the gold answer first. `allow_set_relation_comp` lets an
    # inequality answer a gold interval: "x \le 0" == "(-\infty, 0]".
    return any(
        verify(g, p, timeout_seconds=None, allow_set_relation_comp=True)
        for g in gold
        for p in pred
        if not _clearly_unequal(g, p)
    )


def verify_answer(pred: str, gold: str) -> bool:
    r"""Whether an extracted answer (a box's content) equals the gold answer. Never raises.

    The string rules (``string_verdict``) settle what they can; otherwise both sides, after
    ``rewrite_for_parsing``, are read as LaTeX (wrapped in ``$...$`` when they carry no math
    delimiters) and compared by math-verify. Runs without a deadline: call it through a
    ``GraderPool`` unless the input is trusted.

    >>> verify_answer(r"\frac{1}{2}", "0.5"), verify_answer("070", "70"), verify_answer("7", "70")
    (True, True, False)
    >>> verify_answer(r"10\,080", r"10,\!080"), verify_answer(r"x \le 0", r"(-\infty, 0]")
    (True, True)
    """
    try:
        verdict = string_verdict(pred, gold)
        if verdict is not None:
            return verdict
        return _verify(_parse_answer(_answer_latex(gold)), _parse_answer(_answer_latex(pred)))
    except Exception:
        return False


def verify_response(response: str, gold: str) -> bool:
    """Whether a whole response (one without ``\\boxed{}``) ends on the gold answer, per math-verify's
    own extraction of the last LaTeX or plain expression. Never raises.

    >>> verify_response("The answer is 5", "5"), verify_response("I give up.", "5")
    (True, False)
    """
    try:
        return _verify(_parse_answer(_answer_latex(gold)), _parse(response))
    except Exception:
        return False


def grade_task(pred: str, gold: str, fallback: bool) -> bool:
    """The grader's default task function: a boxed answer, or a whole response when ``fallback``."""
    return verify_response(pred, gold) if fallback else verify_answer(pred, gold)


# One pair of each kind of answer MATH-500 has. The LaTeX parser (ANTLR) learns its prediction tables
# lazily, per process, and a fresh worker parses several times slower until it has seen each construct.
_WARM_UP_PAIRS = [
    (r"\frac{\sqrt{3}}{2}", "0.5"), (r"3\sqrt{2} + 1", r"\sqrt{18}"), (r"\frac{7\pi}{4}", r"2\pi"),
    (r"x \le 0", r"(-\infty, 0]"), (r"\left( 3, \frac{\pi}{2} \right)", "(1, 2)"),
    (r"\{1, \sqrt{2}\}", r"-2, \frac{1}{2}"), (r"(-\infty, 2) \cup (3, \infty)", r"[0, 5)"),
    (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{pmatrix} 1 & 0 \\ 0 & 1 \end{pmatrix}"),
    (r"(x+3)(x-7)", r"x^2 + 10x + 21"), (r"y = 2x + 3", r"5x - 7y + 11z + 4 = 0"), (r"1 \pm \sqrt{19}", r"2 - 3i"),
    (r"10^\circ", r"\text{(C)}"), (r"\text{Evelyn}", r"15\mbox{ cm}^2"), (r"18.90 \text{ dollars}", r"50\%"),
    (r"2^{10} \cdot 3!", r"\log_2 8"), (r"\cos x \sin^2 x", r"\cot x"), (r"204_5", r"\binom{10}{3}"),
]  # fmt: skip


def warm_up_worker(full: bool) -> None:
    """Build math-verify's regexes and (``full``) teach its LaTeX parser each construct before deadlines count.

    The grader's workers run it before they report ready; ``full=False`` grades a single pair.
    """
    logging.getLogger("math_verify").setLevel(logging.ERROR)  # its "timeout is disabled" warning is by design here
    for pred, gold in _WARM_UP_PAIRS if full else _WARM_UP_PAIRS[:1]:
        verify_answer(pred, gold)
    _parse_answer_cached.cache_clear()  # what it cached here is not what will be graded
