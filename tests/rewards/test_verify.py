import doctest
import json
import subprocess
import sys

import sympy

import rlvr.rewards.verify as verify


def test_doctests():
    result = doctest.testmod(verify)
    assert result.attempted > 0 and result.failed == 0


def test_the_warm_up_leaves_no_parse_cached():
    # What the warm-up parsed is not what will be graded: it must not take the cache's room.
    verify.warm_up_worker(full=False)
    assert verify._parse_answer_cached.cache_info().currsize == 0
    assert verify._same_cached.cache_info().currsize == 0


# Texts math-verify hands the LaTeX parser, ambiguous ones first (a tuple or an interval, a set or a list),
# then ones it refuses: syntax errors, and characters its lexer does not know (that error must be raised
# again by the LL parse, not swallowed by the SLL attempt before it).
LATEX = [
    "(1, 2]", "(1,2)", r"(3, \frac{\pi}{2})", r"(-\infty, 2) \cup (3, \infty)", r"\{1, \sqrt{2}\}", "1,-2",
    r"1 \pm \sqrt{19}", r"x \le 0", "y = 2x + 3", "5x - 7y + 11z + 4 = 0", r"\frac{3m}{2}", r"2^{10} \cdot 3!",
    r"\begin{pmatrix} -1/3 \\ 2/3 \\ 5/3 \end{pmatrix}", "x^5 - x^4 + x^3 - x^2 + x - 1",
    r"\{x \mid 2 < x < 3\}", r"3\mid n", r"n \equiv 0,2(\bmod 6)", r"5:21\textsc{pm}", "(", r"\frac{1}{",
]  # fmt: skip

# Each text parsed as latex2sympy does on its own (LL prediction), in a fresh process: the parser's prediction
# cache is shared by all its parses, so LL in a process that parsed SLL first is not LL as it was.
_PARSE_AS_SHIPPED = """
import json, sys
from antlr4.atn.ParserATNSimulator import ParserATNSimulator
from latex2sympy2_extended import latex2sympy
from sympy import srepr
calls, full_context = [], ParserATNSimulator.execATNWithFullContext
ParserATNSimulator.execATNWithFullContext = lambda *args: calls.append(1) or full_context(*args)
results = []
for text in json.load(sys.stdin):
    before = len(calls)
    try:
        result = srepr(latex2sympy(text, is_real=True, convert_degrees=False, normalization_config=None))
    except Exception as error:
        result = f"error: {error}"
    results.append([result, len(calls) - before])
print(json.dumps(results))
"""


def _parse_two_stage(text: str) -> str:
    from latex2sympy2_extended import latex2sympy
    from sympy import srepr

    verify._math_verify_parse()  # puts the SLL-first parser in place
    try:
        return srepr(latex2sympy(text, is_real=True, convert_degrees=False, normalization_config=None))
    except Exception as error:
        return f"error: {error}"


def test_latex_parses_as_it_did_before_sll_first(monkeypatch):
    from antlr4.atn.ParserATNSimulator import ParserATNSimulator

    shipped = subprocess.run(
        [sys.executable, "-c", _PARSE_AS_SHIPPED], input=json.dumps(LATEX), capture_output=True, text=True, check=True
    )
    as_shipped, full_context_calls = zip(*json.loads(shipped.stdout))
    calls, full_context = [], ParserATNSimulator.execATNWithFullContext
    monkeypatch.setattr(ParserATNSimulator, "execATNWithFullContext", lambda *a: calls.append(1) or full_context(*a))
    two_stage, calls_two_stage = [], []
    for text in LATEX:
        two_stage.append(_parse_two_stage(text))
        calls_two_stage.append(len(calls))
        calls.clear()
    assert two_stage == list(as_shipped)
    assert [result.split(":")[0] for result in as_shipped[-6:]] == ["error"] * 6
    # Where the time went: LL's full-context analysis of this grammar's ambiguities. SLL settles the tuples,
    # intervals and sets without it; the polynomial is one it cannot, parsed again by LL.
    assert all(full_context_calls[:5]) and calls_two_stage[:13] == [0] * 13
    assert sum(calls_two_stage) < sum(full_context_calls) / 2


def test_math_verify_caches_hold_a_step():
    from math_verify import parser

    verify._math_verify_parse()
    verify._math_verify_parse()  # once per process: not wrapped twice
    for cached in (parser.parse_latex_cached, parser.parse_expr_cached):
        assert cached.cache_info().maxsize == verify._MATH_VERIFY_CACHE_SIZE
        assert not hasattr(cached.__wrapped__, "cache_info")


def test_equal_readings_are_compared_once():
    verify._same_cached.cache_clear()
    gold = verify._parse_answer(r"$\frac{\sqrt{2}}{2}$")
    assert verify._verify(gold, verify._parse(r"so the answer is $\sin(\pi/4)$."))
    assert verify._verify(gold, verify._parse(r"hence, $\sin(\pi/4)$"))  # another text, the same reading
    assert verify._same_cached.cache_info().hits >= 1
    # A reading that does not hash (a mutable matrix) is compared each time, to the same verdict.
    assert verify._same_remembered(sympy.Matrix([[1, 0], [0, 1]]), sympy.eye(2)) is True
    assert verify._same_remembered(sympy.Matrix([[1, 0], [0, 2]]), sympy.eye(2)) is False


class _Text(str):
    """A reading of another type that Python calls equal to the plain string."""


def test_readings_of_other_types_are_remembered_apart(monkeypatch):
    verdicts = {str: True, _Text: False}
    monkeypatch.setattr(verify, "_same", lambda gold, pred: verdicts[type(pred)])
    verify._same_cached.cache_clear()
    assert _Text("2") == "2" and hash(_Text("2")) == hash("2")
    assert verify._same_remembered("2", "2") is True
    assert verify._same_remembered("2", _Text("2")) is False
    verify._same_cached.cache_clear()
