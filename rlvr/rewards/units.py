r"""Units and words after an answer's value: which tails are dropped before math-verify compares the
values (``without_tail``), and which contradict each other (``tail_verdict``: "7am" is not "7pm").

math-verify's own unit handling (turned off in ``rlvr.rewards.verify``) drops any last word of a long list
that holds single letters (m, s, c, t, h, ...) and words such as "am", "pm" or "more": ``\frac{3}{2}m``
read as 3/2, ``2+3s`` as 2 + 3, and ``7am`` equalled ``7pm``. Here a tail is dropped only where it is clearly
not part of the value: a ``\text{}``-style group (``\text{ cm}^2``, ``\mathrm{~m} / \mathrm{s}``), or a known
unit word of two letters or more (or a.m./p.m.) after a number. A bare single letter after a number is a
variable (``3s``), and so is a bare unit word whose letters the other answer uses as variables.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["tail_verdict", "variables", "without_tail"]

_TEXT_GROUP = r"\\(?:text(?:rm|up|normal|it|bf)?|mbox|mathrm)\s*\{[^{}]*\}"
_POWER = r"(?:\s*\^\s*(?:\{\s*\d\s*\}|\d))?"
_TEXT_TAIL = re.compile(rf"(?P<value>.*?)(?P<tail>{_TEXT_GROUP}{_POWER}(?:\s*/\s*{_TEXT_GROUP}{_POWER})*)\s*\.?", re.S)
_UNIT = (
    r"(?:(?:square|sq|cubic)\s+)?"
    r"(?:[mck]?m|in|inch(?:es)?|ft|feet|foot|yds?|yards?|mi|miles?|(?:centi|kilo|milli)?met(?:er|re)s?|units?|degrees?"
    r"|dollars?|cents?|hours?|hrs?|h|minutes?|mins?|seconds?|secs?|s|days?|weeks?|months?|years?|mph|kph"
    r"|k?g|(?:kilo)?grams?|lbs?|pounds?|ounces?|oz|lit(?:er|re)s?|m?L|ml|gallons?|people|persons?|students?|ways)"
)
_UNITS = rf"{_UNIT}(?:\s*/\s*{_UNIT}|\s+per\s+{_UNIT})?(?:\s*\^\s*\{{?[23]\}}?|[²³])?"  # km/h, miles per hour, cm^2
_TIME_OF_DAY = r"[aApP]\.?\s*[mM]\.?"
_BARE_TAIL = re.compile(rf"(?P<value>.*?[\d}}])\s*(?P<tail>{_UNITS}|{_TIME_OF_DAY})\s*\.?")
_ONE_LETTER = re.compile(r"[A-Za-z]\s*(?:\^.*|[²³])?")
# LaTeX commands a number may be written with; any other letter before a bare unit means it is no plain quantity.
_NUMBER_COMMANDS = re.compile(r"\\(?:[dt]?frac|sqrt|pi|cdot|times|left|right|circ)")
_LATEX_SPACE_AT_END = re.compile(r"(?:\\[,;: !]|\\q?quad|~|\s)+$")
# A `\text{}` of one of these is a symbol, not a unit: Euler's number, the imaginary unit, a differential.
_SYMBOL_WORDS = {"e", "i", "d"}
# Words that change what the number says: a tail with one of a group contradicts one with another of it.
_OPPOSITES = [
    {"am", "pm"}, {"bc", "ad", "bce", "ce"}, {"north", "south", "east", "west"}, {"left", "right"}, {"up", "down"},
    {"clockwise", "counterclockwise", "anticlockwise"}, {"more", "less", "fewer"}, {"increase", "decrease"},
    {"gain", "loss", "profit"}, {"above", "below"}, {"before", "after"}, {"celsius", "fahrenheit"},
]  # fmt: skip


class _Tail(NamedTuple):
    value: str  # the answer without its tail
    words: frozenset[str]  # the tail's words, lower case, dots dropped ("p.m." is "pm")
    letters: frozenset[str]  # the letters a bare tail is written with; empty for a `\text{}` one


def _tail(text: str) -> _Tail | None:
    r"""The answer's value and the unit or words after it, or None when it has no such tail.

    >>> _tail(r"15\mbox{ cm}^2").value, _tail(r"7\text{ p.m.}").words, _tail("12.8 km/h").value
    ('15', frozenset({'pm'}), '12.8')
    >>> _tail("3s"), _tail(r"\frac{3}{2}m"), _tail("2n + 1 ways"), _tail(r"\text{Evelyn}"), _tail(r"2\mathrm{e}")
    (None, None, None, None, None)
    """
    text = text.strip()
    match = _TEXT_TAIL.fullmatch(text)
    if match is not None:
        value, words = _LATEX_SPACE_AT_END.sub("", match["value"]).strip(), _tail_words(match["tail"])
        if not value or value[-1] in "+-*/=(,{^_&" or "".join(sorted(words)) in _SYMBOL_WORDS:
            return None
        return _Tail(value, words, frozenset())
    match = _BARE_TAIL.fullmatch(text)
    if match is None or _ONE_LETTER.fullmatch(match["tail"]):
        return None
    if re.search(r"[A-Za-z]", _NUMBER_COMMANDS.sub("", match["value"])):
        return None  # not after a plain number
    return _Tail(match["value"].strip(), _tail_words(match["tail"]), frozenset(re.findall(r"[A-Za-z]", match["tail"])))


def _tail_words(tail: str) -> frozenset[str]:
    content = re.sub(r"\\[A-Za-z]+", " ", tail).replace(".", "")
    return frozenset(re.findall(r"[a-z]+", content.lower()))


def variables(text: str) -> set[str]:
    r"""The letters ``text`` writes as math (not in ``\text{}``, not in a command name, not in its tail).

    >>> sorted(variables(r"\frac{3m}{2}")), sorted(variables(r"5\text{ cm}")), sorted(variables(r"\sqrt{x} cm"))
    (['m'], [], ['c', 'm', 'x'])
    """
    tail = _tail(text)
    text = re.sub(_TEXT_GROUP, " ", text if tail is None else tail.value)
    return set(re.findall(r"[A-Za-z]", re.sub(r"\\[A-Za-z]+", " ", text)))


def without_tail(text: str, other: str | None) -> str:
    r"""``text`` without its tail (``_tail``), unless the tail is bare and the other answer (None:
    unknown) uses its letters as variables.

    >>> without_tail(r"30 \text{ degrees}", "30"), without_tail("5 cm", "5"), without_tail("5 cm", "5cm + 0")
    ('30', '5', '5 cm')
    """
    tail = _tail(text)
    if tail is None or (tail.letters and other is not None and tail.letters <= variables(other)):
        return text
    return tail.value


def tail_verdict(pred: str, gold: str) -> bool | None:
    r"""False when both answers end in words that contradict each other (``7\text{ a.m.}`` and ``7pm``),
    else None: units, and words on one side only, are dropped before math-verify compares the values.

    >>> tail_verdict("7pm", "7am"), tail_verdict(r"7\text{ p.m.}", "7 PM"), tail_verdict(r"5\text{ cm}", "5 m")
    (False, None, None)
    """
    pred_tail, gold_tail = _tail(pred), _tail(gold)
    if pred_tail is None or gold_tail is None:
        return None
    for group in _OPPOSITES:
        said, meant = pred_tail.words & group, gold_tail.words & group
        if said and meant and said != meant:
            return False
    return None
