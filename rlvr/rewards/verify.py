r"""What decides whether an answer equals the gold one: the string rules, then math-verify.

The string rules (``rlvr.rewards.equivalence.string_verdict``) settle most pairs without sympy. What
they leave, math-verify compares, on the answers after ``rewrite_for_parsing`` (spellings it misreads,
such as ``10\,080`` and ``2.5e-4``, and units, which are dropped there rather than by math-verify's own
list of unit words, which holds single letters that are variables), with parsed answers cached per
process. An answer is read as a whole or not at all: a fragment that parses (the 3 of ``a \# 3``) is
never graded in its place, so two answers that do not parse are equal only when their text is.

Two numeric checks surround math-verify's symbolic comparison, for expressions (not relations, sets or
matrices) in the same symbols: before it, values that differ at a point skip sympy's slow ``simplify``
(``_clearly_unequal``); after it said "not equal", values that agree at five fixed unround points call
the expressions equal (``_equal_at_probe_points``), for identities ``simplify`` misses (``\sinh`` against
its exponentials).

Parsing is most of the cost, so it is made cheaper without changing a reading: LaTeX is parsed by ANTLR in
two stages, SLL then LL (``_sll_first``: the same readings, 3.7 times faster), and math-verify's
parse caches hold a step's expressions; comparisons of equal readings are remembered (``_same_remembered``).

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
from typing import Any, Callable, Sequence

from rlvr.rewards.equivalence import rewrite_for_parsing, string_verdict

# math-verify's LaTeX extraction only looks between delimiters; `\$` is an escaped dollar sign.
_DELIMITED = re.compile(r"(?<!\\)\$|\\\(|\\\[")


def _as_latex(text: str) -> str:
    return text if _DELIMITED.search(text) else f"${text}$"


@functools.cache
def _extraction_config(units: bool) -> tuple[Any, ...]:
    """math-verify's extraction settings, with its unit dropping on (whole responses) or off (answers,
    whose units ``rewrite_for_parsing`` drops: math-verify's list holds letters such as m, s and c)."""
    from latex2sympy2_extended import NormalizationConfig
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    normalization = NormalizationConfig(
        basic_latex=True, units=units, malformed_operators=True, nits=True, boxed="all", equations=False
    )
    return (LatexExtractionConfig(normalization_config=normalization), ExprExtractionConfig())


# math-verify keeps what it parsed in caches of 20 expressions (``parse_latex_cached``, ``parse_expr_cached``):
# too few for one step, where the responses of a group without a box mostly end on the same expression and
# each would be parsed again. Enlarged per process; both functions are pure and sympy objects immutable, so
# a verdict cannot depend on what was cached.
_MATH_VERIFY_CACHE_SIZE = 4_096


@functools.cache
def _math_verify_parse() -> Callable[..., list]:
    """math-verify's ``parse``, set up once per process: its parse caches enlarged to ``_MATH_VERIFY_CACHE_SIZE``
    and its LaTeX parser predicting in two stages (``_sll_first``)."""
    from latex2sympy2_extended.latex2sympy2 import _Latex2Sympy
    from math_verify import parse, parser

    for name in ("parse_latex_cached", "parse_expr_cached"):
        cached = getattr(parser, name)
        if hasattr(cached, "__wrapped__") and cached.cache_info().maxsize < _MATH_VERIFY_CACHE_SIZE:
            setattr(parser, name, functools.lru_cache(maxsize=_MATH_VERIFY_CACHE_SIZE)(cached.__wrapped__))
    if not hasattr(_Latex2Sympy.create_parser, "sll_first"):
        _Latex2Sympy.create_parser = _sll_first(_Latex2Sympy.create_parser)
    return parse


def _sll_first(create_parser: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    """latex2sympy's ``_Latex2Sympy.create_parser`` with ANTLR's two-stage parsing: the parser's start rule
    (``math``) first predicts in SLL mode, and where that meets a syntax error, a fresh lexer and parser
    parse the text as before (LL), so that the error raised, if any, is the one it always was.

    The LaTeX grammar is ambiguous (a tuple or an interval, a set or a list, ``-`` in a sum) and LL
    prediction falls back to full-context analysis, which ANTLR does not cache, in most answers; SLL ignores
    the parser's call stack. ANTLR guarantees that an SLL parse that succeeds gives the tree LL would
    (``antlr4.PredictionMode.SLL``), and latex2sympy's error listener raises at the first syntax error, so
    nothing is patched up on the way. On 23,274 distinct texts (every answer of the data sets, the grader's
    tables, every expression math-verify tried in ``benchmarks/bench_grader.py``'s responses) it gave the
    same sympy objects and the same errors as LL, in 67 s of CPU instead of 249 s. In the benchmark about 8%
    of the parses need the second stage.
    """
    from antlr4 import PredictionMode

    @functools.wraps(create_parser)
    def create(converter: Any, latex: str) -> Any:
        parser = create_parser(converter, latex)
        parse_ll = parser.math

        def math() -> Any:
            parser._interp.predictionMode = PredictionMode.SLL
            try:
                return parse_ll()
            except Exception:
                return create_parser(converter, latex).math()

        parser.math = math
        return parser

    create.sll_first = True
    return create


def _parse(text: str) -> tuple[Any, ...]:
    """math-verify's readings of a whole response: its last LaTeX or plain expression that parses."""
    parse = _math_verify_parse()
    return tuple(parse(text, extraction_config=_extraction_config(units=True), parsing_timeout=None))


def _parse_whole(text: str) -> tuple[Any, ...]:
    """math-verify's reading of an answer as a whole, or (when that fails) only its text.

    ``first_match``: a fragment of an answer that does not parse (the 3 of ``a \# 3``) is never read in
    its place, so two answers that fail to parse are only equal when their text is.
    """
    parse = _math_verify_parse()
    config = _extraction_config(units=False)
    return tuple(parse(text, extraction_config=config, parsing_timeout=None, extraction_mode="first_match"))


# Answers are short; whole responses are not cached (16k of them could hold hundreds of MB).
_CACHED_ANSWER_CHARS = 1_000


@functools.lru_cache(maxsize=16_384)
def _parse_answer_cached(text: str) -> tuple[Any, ...]:
    return _parse_whole(text)


def _parse_answer(text: str) -> tuple[Any, ...]:
    """``_parse_whole`` of a gold or extracted answer, cached: a gold answer is parsed once per worker, not
    once per response graded against it (sympy objects are immutable, so sharing them is safe)."""
    return _parse_answer_cached(text) if len(text) <= _CACHED_ANSWER_CHARS else _parse_whole(text)


def _value_at(expr: Any, point: dict) -> complex | None:
    """``expr``'s value with its symbols set to ``point``, or None where it has none (or not a finite one)."""
    try:
        value = complex(expr.evalf(30, subs=point))
    except (TypeError, ValueError, OverflowError, ArithmeticError):
        return None
    return value if cmath.isfinite(value) else None


# Where two expressions in the same symbols are compared numerically: one value per symbol (up to four)
# at each point. Not round numbers (an identity at integers or tenths, such as sin(10 pi x) = 0, is no
# identity), both signs (sqrt(x^2) is not x), none that answers are special at (0, 1, -1).
_PROBE_POINTS = (
    ("0.7183", "1.3249", "-0.5377", "2.2361"),
    ("-1.4142", "0.3679", "1.7321", "-0.8415"),
    ("1.6487", "-2.1972", "0.4597", "1.2599"),
    ("-0.6931", "2.6458", "-1.3863", "0.5774"),
    ("2.0794", "-0.9093", "1.1447", "-1.9459"),
)
# The points the quick "clearly unequal" check uses before math-verify runs.
_QUICK_POINTS = 2
# Values this close (relative to their size, at 30 digits) are the same value.
_PROBE_RTOL = 1e-9
# Points where both sides must have a value for the probe to call them equal.
_PROBE_MIN_POINTS = 3


def _comparable(gold: Any, pred: Any) -> bool:
    """Whether two readings are expressions (not relations, sets, tuples or matrices) in the same symbols
    whose values can be compared: not percentages (math-verify compares "50\\%" with 50 by its own rule)."""
    from sympy import Expr, UnevaluatedExpr

    return (
        isinstance(gold, Expr)
        and isinstance(pred, Expr)
        and not (gold.has(UnevaluatedExpr) or pred.has(UnevaluatedExpr))
        and gold.free_symbols == pred.free_symbols
        and len(gold.free_symbols) <= len(_PROBE_POINTS[0])
    )


def _values(gold: Any, pred: Any, points: Sequence[tuple[str, ...]]) -> list[tuple[complex | None, complex | None]]:
    """Both expressions' values at each of ``points`` (at the first point only when they have no symbols)."""
    from sympy import Rational

    symbols = sorted(gold.free_symbols, key=str)
    points = points if symbols else points[:1]
    at = [{symbol: Rational(value) for symbol, value in zip(symbols, point)} for point in points]
    return [(_value_at(gold, point), _value_at(pred, point)) for point in at]


def _clearly_unequal(gold: Any, pred: Any) -> bool:
    """Two expressions that math-verify cannot call equal: in the same symbols (or none), with values
    at one point farther apart than its rounding to 6 places allows. Equal expressions agree at every
    point, so this only skips the slow symbolic ``simplify`` that would end in "not equal".

    Not for a bare symbol (math-verify matches ``\\text{east}`` with the letters e*a*s*t as text),
    percentages, sets, relations or matrices.
    """
    from sympy import Symbol

    if isinstance(gold, Symbol) or isinstance(pred, Symbol) or not _comparable(gold, pred):
        return False
    return any(
        a is not None and b is not None and abs(a - b) > 1e-6 + 1e-9 * max(abs(a), abs(b))
        for a, b in _values(gold, pred, _PROBE_POINTS[:_QUICK_POINTS])
    )


def _equal_at_probe_points(gold: Any, pred: Any) -> bool:
    """Whether two expressions in the same symbols (at least one) agree at every probe point where
    either has a value, and both have one at ``_PROBE_MIN_POINTS`` of them at least.

    For identities sympy's ``simplify`` misses (``\\frac{\\sinh(kx)}{k}`` and ``\\frac{e^{kx}-e^{-kx}}{2k}``);
    it runs only after math-verify said "not equal". Two different expressions agree at five unround
    points of mixed sign only by accident. Constants are math-verify's to compare (it rounds to 6 places).
    """
    from sympy import Eq

    if isinstance(pred, Eq) and not isinstance(gold, Eq):
        pred = pred.rhs  # `f(x) = ...` for an expression, as math-verify reads it
    if not _comparable(gold, pred) or not gold.free_symbols:
        return False
    values = _values(gold, pred, _PROBE_POINTS)
    if any((a is None) != (b is None) for a, b in values):
        return False  # defined on one side only: another domain
    defined = [(a, b) for a, b in values if a is not None]
    return len(defined) >= _PROBE_MIN_POINTS and all(
        abs(a - b) <= _PROBE_RTOL * max(1.0, abs(a), abs(b)) for a, b in defined
    )


def _verify(gold: Sequence[Any], pred: Sequence[Any]) -> bool:
    return any(_same_remembered(g, p) for g in gold for p in pred)


def _same_remembered(gold: Any, pred: Any) -> bool:
    """``_same``, remembered per process for readings that hash (sympy's immutable objects, strings): a
    group's responses that end on the same expression, each read from its own text, are compared once.
    The key holds the types, so that readings of two types that compare equal are never taken for each other."""
    key = (type(gold), gold, type(pred), pred)
    try:
        hash(key)
    except TypeError:  # a mutable matrix
        return _same(gold, pred)
    return _same_cached(key)


@functools.lru_cache(maxsize=16_384)
def _same_cached(key: tuple[type, Any, type, Any]) -> bool:
    return _same(key[1], key[3])


def _same(gold: Any, pred: Any) -> bool:
    """One gold reading against one predicted reading: the quick numeric check, math-verify, then the probe."""
    from math_verify import verify
    from sympy import Basic

    if _clearly_unequal(gold, pred):
        return False
    # Not symmetric: math-verify wants the gold answer first. `allow_set_relation_comp` lets an
    # inequality answer a gold interval: "x \le 0" == "(-\infty, 0]".
    if verify(gold, pred, timeout_seconds=None, allow_set_relation_comp=True):
        return True
    # The text of an answer that did not parse is compared as text only, by math-verify.
    return isinstance(gold, Basic) and isinstance(pred, Basic) and _equal_at_probe_points(gold, pred)


def verify_answer(pred: str, gold: str) -> bool:
    r"""Whether an extracted answer (a box's content) equals the gold answer. Never raises.

    The string rules (``string_verdict``) settle what they can; otherwise both sides, after
    ``rewrite_for_parsing`` (each against the other), are read as LaTeX (wrapped in ``$...$`` when they
    carry no math delimiters) and compared by math-verify, then by the numeric probe. Runs without a
    deadline: call it through a ``GraderPool`` unless the input is trusted.

    >>> verify_answer(r"\frac{1}{2}", "0.5"), verify_answer("070", "70"), verify_answer("7", "70")
    (True, True, False)
    >>> verify_answer(r"10\,080", r"10,\!080"), verify_answer(r"x \le 0", r"(-\infty, 0]")
    (True, True)
    >>> verify_answer(r"\frac{3m}{2}", r"\frac{3}{2}m"), verify_answer(r"\frac{3}{2}", r"\frac{3}{2}m")
    (True, False)
    """
    try:
        verdict = string_verdict(pred, gold)
        if verdict is not None:
            return verdict
        pred_latex, gold_latex = _as_latex(rewrite_for_parsing(pred, gold)), _as_latex(rewrite_for_parsing(gold, pred))
        return _verify(_parse_answer(gold_latex), _parse_answer(pred_latex))
    except Exception:
        return False


def verify_response(response: str, gold: str) -> bool:
    """Whether a whole response (one without ``\\boxed{}``) ends on the gold answer, per math-verify's
    own extraction of the last LaTeX or plain expression. Never raises.

    >>> verify_response("The answer is 5", "5"), verify_response("I give up.", "5")
    (True, False)
    """
    try:
        return _verify(_parse_answer(_as_latex(rewrite_for_parsing(gold))), _parse(response))
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
    _same_cached.cache_clear()
