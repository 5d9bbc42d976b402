r"""Answer equivalence from the text alone: verdicts and rewrites that need no sympy.

These run in the trainer process before anything is sent to a grader worker, and settle most pairs:
the same answer spelled differently (``\dfrac``, ``\left(``, spaces), two plain numbers ("070" == "70",
"142" == "142.0", "50\%" == "0.5"), tuples, intervals and answer sets of plain numbers, choice letters
(``\textbf{(C)}\ 12`` answers ``\text{(C)}``), numbers in e-notation ("2.5e-4" == "0.00025"), words after
the value that contradict each other ("7am" != "7\text{ p.m.}"). Each rule may only call genuinely equal
answers equal, and says "unequal" only where the text proves it; whatever they do not settle (None) goes
to math-verify, after ``rewrite_for_parsing`` fixes the spellings it misreads (``10\,080``, ``2.5e-4``,
``\log x`` for ``\ln x``) and drops what is clearly a unit (``\text{ cm}^2``, "km/h" after a number, never
a bare letter such as the m of ``\frac{3}{2}m``). Units and words after the value: ``rlvr.rewards.units``.
"""

from __future__ import annotations

import functools
import math
import re
from decimal import Decimal
from fractions import Fraction
from typing import Iterable, Mapping, NamedTuple

from rlvr.rewards.units import tail_verdict, variables, without_tail

# --- Spellings that never change a value.

# `\text{(C)}`, `\textbf{(C)}`, `\mathrm{C}`, ...: the wrapper is formatting, its content is the answer.
_TEXT_WRAPPER = re.compile(r"\\(?:text(?:bf|rm|it)?|math(?:rm|bf|it)|mbox)\s*\{([^{}]*)\}")


def _unwrap_text(text: str) -> str:
    r"""``text`` with its ``\text{...}``-style wrappers (of brace-free content) replaced by their content.

    >>> _unwrap_text(r"\textbf{(C)}\ 12"), _unwrap_text(r"5\text{ cm}")
    ('(C)\\ 12', '5 cm')
    """
    return _TEXT_WRAPPER.sub(r"\1", text)


_LEFT_RIGHT = re.compile(r"\\(?:left|right)\s*(?=[()\[\]|.]|\\[{}])")
_SPELLINGS = [
    (re.compile(r"\\[dt]frac"), r"\\frac"),
    (_LEFT_RIGHT, ""),
    (re.compile(r"\\!|\\displaystyle|(?<!\\)\$"), ""),
]
# In math mode whitespace only matters where it ends a command name before a letter (`\pi r`).
_SPACE = re.compile(r"(\\[A-Za-z]+)?\s+(?=([A-Za-z])?)")


def _spelling(text: str) -> str:
    r"""``text`` with differences that never change a LaTeX value removed: spaces, ``\dfrac``,
    ``\left(``, ``\!``, ``$``. Two answers with the same spelling are equal.

    >>> _spelling(r"$\left( 3, \dfrac{\pi}{2} \right)$"), _spelling(r"\pi r^2")
    ('(3,\\frac{\\pi}{2})', '\\pi r^2')
    """
    for pattern, replacement in _SPELLINGS:
        text = pattern.sub(replacement, text)
    return _SPACE.sub(lambda m: f"{m[1]} " if m[1] and m[2] else (m[1] or ""), text).strip()


# --- Plain numbers.

# A number as answers write it, bounded (Fraction and Decimal of huge digit strings are slow):
# an integer or decimal, possibly in e-notation (`2.5e-4`), `\frac{a}{b}` (also `\dfrac`, `\frac34`,
# `\frac{14}3`) or `a/b`, optionally after `\$` and before a percent or degree sign.
_DIGITS = r"\d{1,100}"
_EXPONENT = r"[eE][+-]?\d{1,3}"
_RATIO = (
    rf"\\[dt]?frac\s*(?:\{{\s*(?P<num>[+-]?{_DIGITS})\s*\}}|(?P<num1>\d))"
    rf"\s*(?:\{{\s*(?P<den>{_DIGITS})\s*\}}|(?P<den1>\d))"
    rf"|(?P<num2>{_DIGITS})\s*/\s*(?P<den2>{_DIGITS})"
)
_VALUE = re.compile(
    rf"(?:\\\$)?\s*(?P<sign>[+-]?)\s*"
    rf"(?:(?P<decimal>(?:{_DIGITS}(?:\.\d{{0,100}})?|\.\d{{1,100}})(?:{_EXPONENT})?)|{_RATIO})"
    r"\s*(?:(?P<percent>\\?%)|\^\s*\{?\s*\\circ\s*\}?|°)?"
)
# `x = 5`: math-verify compares the right-hand side with a gold answer that is no equation.
_ASSIGNMENT = re.compile(r"[A-Za-z]\s*=\s*(?P<rhs>[^=]*)")


class _Value(NamedTuple):
    number: Fraction
    decimal: bool  # written with a decimal point or in e-notation: math-verify reads it as a float
    percent: bool


def _value(text: str) -> _Value | None:
    r"""A plain number's exact value, or None for anything else.

    A leading ``\$``, a trailing degree sign and a ``\text{}`` around it all are dropped (they do not
    change the number); thousands separators are not read here, since "1,2" may be a list.

    >>> _value(r"\$18.90")
    _Value(number=Fraction(189, 10), decimal=True, percent=False)
    >>> _value(r"-\dfrac{14}3").number, _value(r"50\%").percent, _value(r"30^\circ").number, _value(".5").number
    (Fraction(-14, 3), True, Fraction(30, 1), Fraction(1, 2))
    >>> _value("2.5e-4").number, _value("1E3").number
    (Fraction(1, 4000), Fraction(1000, 1))
    >>> _value("1/0"), _value("1,000"), _value(r"\sqrt{2}"), _value("2e")
    (None, None, None, None)
    """
    match = _VALUE.fullmatch(_unwrap_text(text).strip())
    if match is None:
        return None
    if match["decimal"] is not None:
        number = Fraction(Decimal(match["decimal"]))
    else:
        numerator = match["num"] or match["num1"] or match["num2"]
        denominator = int(match["den"] or match["den1"] or match["den2"])
        if denominator == 0:
            return None
        number = Fraction(int(numerator), denominator)
    sign = -1 if match["sign"] == "-" else 1
    decimal = match["decimal"] is not None and any(mark in match["decimal"] for mark in ".eE")  # a float to math-verify
    return _Value(sign * number, decimal=decimal, percent=match["percent"] is not None)


def _readings(value: _Value) -> set[Fraction]:
    """What a number may mean: a percentage is its number or its fraction ("10\\%" is 10 or 0.1)."""
    return {value.number, value.number / 100} if value.percent else {value.number}


def _decimal_places(number: Fraction) -> int | None:
    """How many decimal places write ``number`` exactly; None if no finite number does (1/3).

    >>> _decimal_places(Fraction(189, 10)), _decimal_places(Fraction(70)), _decimal_places(Fraction(1, 3))
    (1, 0, None)
    """
    denominator, twos, fives = number.denominator, 0, 0
    while denominator % 2 == 0:
        denominator, twos = denominator // 2, twos + 1
    while denominator % 5 == 0:
        denominator, fives = denominator // 5, fives + 1
    return max(twos, fives) if denominator == 1 else None


def _without_assignment(pred: str, gold: str) -> tuple[str, str]:
    """Both sides with a lone ``x = `` dropped where the other side is no equation, as math-verify does."""
    pred_rhs, gold_rhs = _ASSIGNMENT.fullmatch(pred.strip()), _ASSIGNMENT.fullmatch(gold.strip())
    if pred_rhs and "=" not in gold:
        pred = pred_rhs["rhs"]
    if gold_rhs and "=" not in pred:
        gold = gold_rhs["rhs"]
    return pred, gold


def _same_number(pred: _Value, gold: _Value) -> bool | None:
    """Whether two plain numbers are equal; None when only math-verify's rounding can tell (see below)."""
    pred_readings, gold_readings = _readings(pred), _readings(gold)
    if not pred_readings.isdisjoint(gold_readings):
        return True
    if pred.decimal == gold.decimal:
        return False
    places = [_decimal_places(n) for n in pred_readings | gold_readings]
    return False if all(p is not None and p <= 6 for p in places) else None


def _number_verdict(pred: str, gold: str) -> bool | None:
    r"""Exact verdict when both sides are plain numbers, or None (also when math-verify's rounding decides).

    Integers and fractions compare exactly, and so do two decimals: ".0000673" is not ".0000672",
    which math-verify (rounding both to 6 places) would call equal. A decimal and a fraction are
    equal when their values are; when they are not, they can still be equal to 6 places (0.333333
    and 1/3) unless both are exact in 6 places, and that is left to math-verify.

    >>> _number_verdict("142", "142.0"), _number_verdict("070", "70"), _number_verdict("7", "70")
    (True, True, False)
    >>> _number_verdict("x = 5", "5"), _number_verdict(r"\dfrac{3}{4}", "0.75"), _number_verdict("0.1", r"10\%")
    (True, True, True)
    >>> _number_verdict("0.0000673", ".0000672")
    False
    >>> _number_verdict("0.333333", r"\frac{1}{3}") is None, _number_verdict("143", "142.0")
    (True, False)
    """
    pred_value, gold_value = (_value(side) for side in _without_assignment(pred, gold))
    if pred_value is None or gold_value is None:
        return None
    return _same_number(pred_value, gold_value)


# --- Tuples, intervals and answer sets of plain numbers. math-verify's LaTeX parser needs 0.1 to 0.3 s
# for each of these (its grammar is ambiguous between a tuple and an interval), so the common ones
# are compared here: tuples and intervals in order and by their brackets, answer sets in any order.

_Item = _Value | float  # a plain number, or an infinite end (+-inf)
_INFINITY = re.compile(r"(?P<sign>[+-]?)\\infty")
_THOUSANDS_LIST = re.compile(r"\d{1,3}(?:,\d{3})+")  # "58,500" is a number, not the answers 58 and 500


# A square bracket at an infinite end: sympy reads [-oo, 0] as (-oo, 0], so this is caught before it.
_CLOSED_AT_INFINITY = re.compile(r"\[\s*-\s*\\infty|\\infty\s*\]")


def _closes_at_infinity(text: str) -> bool:
    r"""Whether an interval in ``text`` is closed at an infinite end, as in ``[-\infty, 0]``.

    >>> _closes_at_infinity(r"\left[-\infty, 0\right]"), _closes_at_infinity(r"(-\infty, 0]")
    (True, False)
    """
    return _CLOSED_AT_INFINITY.search(_LEFT_RIGHT.sub("", text)) is not None


class _Collection(NamedTuple):
    kind: str  # "bracketed" (a tuple or an interval), "set" (answers in any order) or "union" (of intervals)
    brackets: str  # the opening and closing bracket, e.g. "(]"; "" for sets and unions
    items: tuple  # of _Item; of _Collection for a union


def _item(text: str) -> _Item | None:
    infinity = _INFINITY.fullmatch(text)
    if infinity is not None:
        return -math.inf if infinity["sign"] == "-" else math.inf
    value = _value(text)
    return None if value is None or value.percent else value


def _items(text: str) -> tuple | None:
    items = tuple(_item(part) for part in text.split(","))
    return None if len(items) < 2 or None in items else items


def _collection(text: str) -> _Collection | None:
    r"""A tuple, interval, answer set or union of intervals whose elements are plain numbers, else None.

    >>> _collection(r"\left( -\infty, 3 \right]").brackets, _collection(r"\{1, -2\}").kind, _collection("-2, 1").kind
    ('(]', 'set', 'set')
    >>> _collection(r"(0,9) \cup (9,36)").kind, _collection("58,500"), _collection(r"(3, \frac{\pi}{2})")
    ('union', None, None)
    """
    text = _spelling(text)
    if r"\cup" in text:
        parts = tuple(_collection(part) for part in text.split(r"\cup"))
        if None in parts or any(part.kind != "bracketed" or len(part.items) != 2 for part in parts):
            return None
        return _Collection("union", "", parts)
    if text.startswith(r"\{") and text.endswith(r"\}"):
        items = _items(text[2:-2])
        kind, brackets = "set", ""
    elif len(text) > 1 and text[0] in "([" and text[-1] in ")]":
        items = _items(text[1:-1])
        kind, brackets = "bracketed", text[0] + text[-1]
    elif _THOUSANDS_LIST.fullmatch(text):
        return None
    else:
        items = _items(text)
        kind, brackets = "set", ""
    if items is None or (kind == "set" and any(isinstance(item, float) for item in items)):
        return None
    return _Collection(kind, brackets, items)


def _same_item(pred: _Item, gold: _Item) -> bool | None:
    if isinstance(pred, float) or isinstance(gold, float):
        return pred == gold
    return _same_number(pred, gold)


def _all_same(verdicts: Iterable[bool | None]) -> bool | None:
    """True if all are True, False if one is False and none is None, else None."""
    verdicts = list(verdicts)
    if all(v is True for v in verdicts):
        return True
    return None if None in verdicts else False


def _sort_key(item: _Item) -> float | Fraction:
    return item if isinstance(item, float) else item.number


def _collection_verdict(pred: str, gold: str) -> bool | None:
    r"""Verdict for two tuples, intervals, answer sets or unions of plain numbers, or None.

    Tuples and intervals are ordered and their brackets count; an answer set (``1, 2`` or
    ``\{1, 2\}``) is not ordered. What a rule here cannot tell is left to math-verify: sizes that
    differ, a tuple against a set, unions that differ (they may still cover the same numbers).

    >>> _collection_verdict(r"\left( \frac32, -13 \right)", "(1.5, -13)"), _collection_verdict("(-13, 1.5)", "(1.5, -13)")
    (True, False)
    >>> _collection_verdict("(3, 4)", "(3,4]"), _collection_verdict(r"\{2, 1\}", "1, 2")
    (False, True)
    >>> _collection_verdict("1, 3", "1, 2")
    False
    >>> _collection_verdict("(2, 1)", "1, 2") is None, _collection_verdict("(1, 2, 3)", "(1, 2)") is None
    (True, True)
    """
    pred_collection, gold_collection = _collection(pred), _collection(gold)
    if pred_collection is None or gold_collection is None:
        return None
    return _compare_collections(pred_collection, gold_collection)


def _compare_collections(pred: _Collection, gold: _Collection) -> bool | None:
    if pred.kind != gold.kind or len(pred.items) != len(gold.items):
        return None
    if pred.kind == "union":
        by_start = functools.partial(sorted, key=lambda part: _sort_key(part.items[0]))
        verdict = _all_same(_compare_collections(p, g) for p, g in zip(by_start(pred.items), by_start(gold.items)))
        return True if verdict else None
    if pred.kind == "set":
        pred_items, gold_items = sorted(pred.items, key=_sort_key), sorted(gold.items, key=_sort_key)
    elif pred.brackets != gold.brackets:
        # Other brackets make another interval; a tuple written in square brackets is left to math-verify.
        return False if len(pred.items) == 2 else None
    else:
        pred_items, gold_items = pred.items, gold.items
    return _all_same(_same_item(p, g) for p, g in zip(pred_items, gold_items))


# --- Multiple choice.

_WHOLE_CHOICE = re.compile(r"\(?([A-H])\)?|\(([a-h])\)")
# A choice named inside more text: "(C) 12", "the answer is (C)." but not "P(A)" or "f(B)".
_NAMED_CHOICE = re.compile(r"(?<![\w)}\\])\(([A-H])\)")


@functools.lru_cache(maxsize=4096)  # the grader asks it of every boxed response's gold answer
def gold_choice(gold: str) -> str | None:
    r"""The letter of a multiple-choice gold answer (``\text{(C)}``, ``(C)``, ``C``), else None.

    >>> gold_choice(r"\text{(C)}"), gold_choice("B"), gold_choice("12"), gold_choice(r"\text{Evelyn}")
    ('C', 'B', None, None)
    """
    match = _WHOLE_CHOICE.fullmatch(_unwrap_text(gold).strip().strip("$").strip())
    return None if match is None else (match[1] or match[2]).upper()


def stated_choice(pred: str) -> str | None:
    r"""The one choice letter an answer states: all of it ("C", "(C)", "\textbf{(C)}"), or the only
    parenthesised capital letter in it ("\textbf{(C)}\ 12", "The answer is (C)."); None otherwise.

    A bare lowercase letter is not a choice: it may be a variable, or Euler's e.

    >>> stated_choice(r"\textbf{(C)}\ 12"), stated_choice("(c)"), stated_choice("The answer is (D).")
    ('C', 'C', 'D')
    >>> stated_choice("(B) or (C)"), stated_choice("P(A) = 1/2"), stated_choice("c"), stated_choice("12")
    (None, None, None, None)
    """
    text = _unwrap_text(pred).strip().strip("$").strip().rstrip(".").strip()
    whole = _WHOLE_CHOICE.fullmatch(text)
    if whole is not None:
        return (whole[1] or whole[2]).upper()
    named = set(_NAMED_CHOICE.findall(text))
    return named.pop() if len(named) == 1 else None


def option_gold(pred: str, gold: str, options: Mapping[str, str]) -> str:
    r"""What ``pred`` is graded against where the problem's multiple-choice ``options`` (letter -> content) are
    known: the gold letter's option content when the gold is a letter and ``pred`` states none (it answered
    with the content: "\boxed{\frac12}"), else ``gold`` itself (a letter is graded as a letter).

    >>> options = {"A": "3", "B": r"\frac{1}{2}"}
    >>> option_gold("0.5", "B", options), option_gold("(A)", "B", options), option_gold("0.5", "7", options)
    ('\\frac{1}{2}', 'B', '7')
    """
    letter = gold_choice(gold)
    if letter is None or letter not in options or stated_choice(pred) is not None:
        return gold
    return options[letter]


def _choice_verdict(pred: str, gold: str) -> bool | None:
    r"""When the gold answer is a choice letter and the answer states one: whether they are the same.

    >>> _choice_verdict("C", r"\text{(C)}"), _choice_verdict(r"\text{(B)}", r"\text{(C)}"), _choice_verdict("12", "(C)")
    (True, False, None)
    """
    gold_letter = gold_choice(gold)
    if gold_letter is None:
        return None
    pred_letter = stated_choice(pred)
    return None if pred_letter is None else pred_letter == gold_letter


# --- `x = ...` against the value alone.

# Where math-verify reads `x = ...` other than as "x is ...": a left side it takes for a constant (Euler's e,
# the imaginary unit), or a right side holding a list (`x = 58,500` is a set there), a `\pm` or a relation.
_CONSTANT_LEFT_SIDE = re.compile(r"\s*[eEiI]\s*=")
_NO_PLAIN_VALUE = re.compile(
    r"[,<>]|\\(?:pm|mp|[lg]eq?(?:slant)?|neq?|[lg]t|n?in|notin|approx|sim|equiv|cong|su[bp]\w*|to|mapsto)(?![A-Za-z])"
)


def _assignment_verdict(pred: str, gold: str) -> bool | None:
    r"""True where one side is the other spelled the same after a lone ``x = `` (``y = 2\sqrt{5}`` and
    ``2 \sqrt{5}``), else None: math-verify compares an assignment's right side with a gold answer that is
    no equation, and two equal spellings read the same. Saves sympy a parse of each side (0.05 to 0.3 s).

    >>> _assignment_verdict(r"y = 2\sqrt{5}", r"2 \sqrt{5}"), _assignment_verdict("2k+2", "n = 2k + 2")
    (True, True)
    >>> _assignment_verdict("x = 58,500", "58,500"), _assignment_verdict("i = 2k", "2k")
    (None, None)
    >>> _assignment_verdict("y = 2k", "2") is None, _assignment_verdict(r"x \le 2", "2") is None
    (True, True)
    """
    unwrapped = _without_assignment(pred, gold)
    if unwrapped == (pred, gold) or _CONSTANT_LEFT_SIDE.match(pred) or _CONSTANT_LEFT_SIDE.match(gold):
        return None
    if any(_NO_PLAIN_VALUE.search(side) for side in unwrapped):
        return None
    return True if _spelling(unwrapped[0]) == _spelling(unwrapped[1]) else None


def string_verdict(pred: str, gold: str) -> bool | None:
    r"""A verdict from the answers' text alone, or None when it takes math-verify.

    >>> string_verdict(r"\dfrac{1}{2}", r"\frac{1}{2}"), string_verdict("70", "070"), string_verdict("(B)", "(C)")
    (True, True, False)
    >>> string_verdict(r"\frac{2}{4}", "0.5"), string_verdict(r"[-\infty, 0]", r"(-\infty, 0]")
    (True, False)
    >>> string_verdict(r"\sqrt{4}", "2") is None  # math-verify's to decide
    True
    """
    if _spelling(pred) == _spelling(gold):
        return True
    if _closes_at_infinity(pred) and not _closes_at_infinity(gold):
        return False
    for rule in (_number_verdict, _collection_verdict, _choice_verdict, tail_verdict, _assignment_verdict):
        verdict = rule(pred, gold)
        if verdict is not None:
            return verdict
    return None


# --- Spellings math-verify misreads.

# Thousands separated by a thin or normal LaTeX space: `10\,080`, which math-verify reads as 10 + 080.
_SPACED_THOUSANDS = re.compile(r"(?<=\d)(?:\\[,;: ]|~)(?=\d{3}(?!\d))")
_BARE_PI = re.compile(r"(?<![A-Za-z\\])pi(?![A-Za-z])")
# `2.5e-4`, which math-verify reads as 2.5 * e - 4.
_E_NOTATION = re.compile(r"(?<![\w.\\^_{}])(?P<mantissa>\d+(?:\.\d*)?|\.\d+)[eE](?P<exponent>[+-]?\d{1,3})(?![\w.])")
# `\log x` without a base: math-verify reads it in base 10, `\ln x` in base e.
_LOG_WITHOUT_BASE = re.compile(r"\\log(?![A-Za-z])(?!\s*_)")


def _scientific(text: str, other: str | None) -> str:
    r"""Numbers in e-notation written as powers of ten, unless the other answer uses a bare ``e`` (Euler's
    number): then ``2e-4`` is read as it reads there, 2e - 4.

    >>> _scientific("2.5e-4", None), _scientific("(1E3, 2)", "x")
    ('2.5 \\times 10^{-4}', '(1 \\times 10^{3}, 2)')
    >>> _scientific("2e-4", "2e - 4"), _scientific("x_1e2", None)
    ('2e-4', 'x_1e2')
    """
    if other is not None and {"e", "E"} & variables(_E_NOTATION.sub(" ", other)):
        return text
    return _E_NOTATION.sub(lambda m: rf"{m['mantissa']} \times 10^{{{int(m['exponent'])}}}", text)


def rewrite_for_parsing(text: str, other: str | None = None) -> str:
    r"""The spellings math-verify misreads, rewritten into ones it reads right, and the answer's unit or
    trailing words dropped (``rlvr.rewards.units.without_tail``). ``other`` is the answer it is compared
    with (None: unknown), whose variables decide whether a bare unit word or an ``e`` is a variable here too.

    A ``\log`` without a base is the natural logarithm, as ``\ln``: the convention where none is given,
    applied to both answers alike.

    >>> rewrite_for_parsing(r"10\,080"), rewrite_for_parsing("(3, pi/2)"), rewrite_for_parsing(r"\varnothing")
    ('10080', '(3, \\pi/2)', '\\emptyset')
    >>> rewrite_for_parsing(r"864 \mbox{ inches}^2"), rewrite_for_parsing(r"\frac{3}{4} square miles")
    ('864', '\\frac{3}{4}')
    >>> rewrite_for_parsing("3s+2"), rewrite_for_parsing("5 cm", "5cm + c")  # a variable, as in the other answer
    ('3s+2', '5 cm')
    >>> rewrite_for_parsing(r"\log x"), rewrite_for_parsing(r"\log_2 x"), rewrite_for_parsing("2.5e-4")
    ('\\ln x', '\\log_2 x', '2.5 \\times 10^{-4}')
    """
    text = _SPACED_THOUSANDS.sub("", text)
    text = _BARE_PI.sub(r"\\pi", text.replace(r"\varnothing", r"\emptyset"))
    text = _LOG_WITHOUT_BASE.sub(r"\\ln", without_tail(text, other))
    return _scientific(text, other)
