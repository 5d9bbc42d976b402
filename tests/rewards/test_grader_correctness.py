r"""Grader correctness: one table per class of mistake the grader made (issue 16), each verdict judged by hand.

Answer pairs (pred, gold) are graded in one batch on one pool, through the string rules and the workers
as in training, then checked one per test, so that a failure names the class, the gold and the answer.
A comment says why where a verdict is not obvious. The golds are made up, in the styles of MATH-500 and
of the training data (``10t``, ``3:30 PM``, ``2.035 \text{ m}``, ``\frac{4}{3} \mathrm{~m} / \mathrm{s}``).
"""

from __future__ import annotations

import pytest
import sympy

import rlvr.rewards.verify as verify
from rlvr.evaluate.metrics import summarize
from _grading_tables import answer_verdicts_of, pool  # noqa: F401  (pool: a fixture)
from rlvr.rewards.grader import Task, grade_answers, grade_responses, read_response

# (pred, gold, correct) per class.
ANSWERS: dict[str, list[tuple[str, str, bool]]] = {
    # A letter after a number is a variable unless it is clearly a unit: in \text{}, or a unit word of two
    # letters or more after a plain number.
    "variable_not_unit": [
        (r"\frac{3m}{2}", r"\frac{3}{2}m", True),
        (r"m \cdot \frac{3}{2}", r"\frac{3}{2}m", True),
        ("1.5m", r"\frac{3}{2}m", True),
        (r"\frac{3}{2}", r"\frac{3}{2}m", False),  # the m is dropped: another answer
        (r"\frac{2}{3}m", r"\frac{3}{2}m", False),
        ("2+3s", "3s+2", True),
        ("3(s+1)-1", "3s+2", True),  # 3s + 3 - 1
        ("5", "3s+2", False),  # 3 + 2 with the s dropped
        ("3s", "3s+2", False),
        (r"\frac{c}{3}", r"\frac13 c", True),
        ("c/3", r"\frac13 c", True),
        (r"\frac{1}{3}", r"\frac13 c", False),
        (r"\frac{3}{c}", r"\frac13 c", False),
        ("10", "10t", False),
        (r"t \cdot 10", "10t", True),
        ("5m", "5", False),  # a bare letter is a variable: 5m is not 5, whatever m might stand for
        (r"\frac{3}{2}\text{ m}", r"\frac{3m}{2}", False),  # 3/2 metres is a number, not an expression in m
    ],
    # ... and a unit that clearly is one is still dropped.
    "unit_dropped": [
        ("2.035", r"2.035 \text{ m}", True),
        ("24 km", r"24 \text{ km}", True),
        ("24", r"24 \text{ km}", True),
        (r"\frac{4}{3}", r"\frac{4}{3} \mathrm{~m} / \mathrm{s}", True),
        (r"\frac43 \text{ m/s}", r"\frac{4}{3} \mathrm{~m} / \mathrm{s}", True),
        ("1.33", r"\frac{4}{3} \mathrm{~m} / \mathrm{s}", False),  # a rounding is not the value
        (r"12\sqrt{13}", r"12\sqrt{13}\text{ feet}", True),
        (r"12\sqrt{13} feet", r"12\sqrt{13}\text{ feet}", True),
        (r"13\sqrt{12}", r"12\sqrt{13}\text{ feet}", False),
        ("5 cm", "5", True),
        (r"5\text{ m}", "5", True),
    ],
    # Words that change what the number says are compared; words on one side only are dropped.
    "meaning_words": [
        ("7pm", "7am", False),
        (r"7\text{ p.m.}", "7am", False),
        (r"7\text{ a.m.}", "7am", True),
        ("7 AM", "7am", True),
        ("8am", "7am", False),
        ("7", "7am", True),  # the time without its half of the day: not contradicted
        (r"3:30 \text{ p.m.}", "3:30 PM", True),
        ("3:30pm", "3:30 PM", True),
        (r"3:30 \text{ a.m.}", "3:30 PM", False),
        (r"5 \text{ miles south}", r"5 \text{ miles north}", False),
        (r"5\text{ mi north}", r"5 \text{ miles north}", True),
    ],
    # An answer that does not parse as a whole is never graded by a fragment that does.
    "parse_failure": [
        (r"b \# 3", r"a \# 3", False),  # both fail to parse; only the 3 did
        (r"a\#3", r"a \# 3", True),  # the same text once spaces are dropped
        ("3", r"a \# 3", False),
        (r"abc \wr 5", "5", False),  # the pred fails to parse; its trailing 5 is no answer
        (r"x ?? 5", "5", False),
        (r"T_{\text{hot}}\sqrt3", r"T_{\text{hot}}/\sqrt2", False),
        (r"\frac{T_{\text{hot}}}{\sqrt{2}}", r"T_{\text{hot}}/\sqrt2", True),
        (r"\frac{\sqrt2}{2} T_{\text{hot}}", r"T_{\text{hot}}/\sqrt2", True),  # 1/sqrt(2) = sqrt(2)/2
        ("12.8</think>", "12.8", False),
    ],
    # e-notation is a number.
    "e_notation": [
        ("0.00025", "2.5e-4", True),
        (r"2.5 \times 10^{-4}", "2.5e-4", True),
        (r"\frac{1}{4000}", "2.5e-4", True),
        ("0.0025", "2.5e-4", False),
        ("2.5e-3", "2.5e-4", False),
        ("2.5", "2.5e-4", False),
        ("2.5e-4", "0.00025", True),
        ("2.5E-4", "0.00025", True),
        ("25e-5", "0.00025", True),
        ("2.5e-5", "0.00025", False),
        ("10^6", "1e6", True),
        ("1000000", "1e6", True),
        ("1e5", "1e6", False),
        # where the other answer writes Euler's e, 2e-4 is 2e - 4 as it is there
        ("2e-4", "2e - 4", True),
        ("-4 + 2e", "2e - 4", True),
        ("0.0002", "2e - 4", False),  # 2e - 4 is about 1.44
    ],
    # \log without a base is the natural logarithm, as \ln.
    "natural_log": [
        (r"\log x", r"\ln x", True),
        (r"\log(x)", r"\ln x", True),
        (r"\ln x", r"\log x", True),
        (r"\log_{10} x", r"\ln x", False),
        (r"\log_2 x", r"\ln x", False),
        (r"\log_3 2", r"\frac{\ln 2}{\ln 3}", True),  # change of base
        (r"\frac{\log 2}{\log 3}", r"\frac{\ln 2}{\ln 3}", True),
        (r"\log_2 3", r"\frac{\ln 2}{\ln 3}", False),  # its inverse
        (r"\log 4", r"2\ln 2", True),
        (r"\ln 2", r"2\ln 2", False),
    ],
    # Identities sympy's simplify misses are caught by the numeric probe; it never calls different ones equal.
    "numeric_probe": [
        (r"\frac{\sinh(kx)}{k}", r"\frac{e^{kx}-e^{-kx}}{2k}", True),  # sinh(u) = (e^u - e^-u) / 2
        (r"\frac{\cosh(kx)}{k}", r"\frac{e^{kx}-e^{-kx}}{2k}", False),
        (r"\frac{\sinh(kx)}{2k}", r"\frac{e^{kx}-e^{-kx}}{2k}", False),  # half of it
        (r"\frac{\sinh(ky)}{k}", r"\frac{e^{kx}-e^{-kx}}{2k}", False),  # another variable
        (r"\tan\frac{x}{2}", r"\frac{1-\cos x}{\sin x}", True),  # the half-angle formula
        (r"\cot\frac{x}{2}", r"\frac{1-\cos x}{\sin x}", False),
        ("x", r"\sqrt{x^2}", False),  # not for negative x
        ("|x|", r"\sqrt{x^2}", True),
        (r"x + \sin(10\pi x)", "x", False),  # equal at every tenth, not in between
    ],
    # `x = ` before the value (or before the gold answer) says nothing more: the string rules settle the
    # same spelling, math-verify the rest.
    "assignment": [
        (r"y = 2\sqrt{5}", r"2 \sqrt{5}", True),
        ("n = x^5 - x^4 + x^3 - x^2 + x - 1", "x^5 - x^4 + x^3 - x^2 + x - 1", True),
        (r"x = \begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", True),
        ("2x+3", "y = 2x + 3", True),
        (r"x = \sqrt{20}", r"2\sqrt{5}", True),  # another spelling: math-verify's
        ("y = 2x + 5", "2x + 3", False),
        (r"x = 2\sqrt{6}", r"2\sqrt{5}", False),
        ("x = 2x + 3", "y = 2x + 3", False),  # another equation
    ],
}

ANSWER_CASES = [
    pytest.param(pred, gold, expected, id=f"{kind}: {gold} {'==' if expected else '!='} {pred}")
    for kind, rows in ANSWERS.items()
    for pred, gold, expected in rows
]


@pytest.fixture(scope="module")
def answer_verdicts(pool) -> dict[tuple[str, str], bool]:
    return answer_verdicts_of(((pred, gold) for rows in ANSWERS.values() for pred, gold, _ in rows), pool)


@pytest.mark.parametrize("pred, gold, expected", ANSWER_CASES)
def test_answer(answer_verdicts, pred, gold, expected):
    assert answer_verdicts[pred, gold] is expected


# --- The numeric probe: where it runs, and where it does not apply.


def test_the_probe_runs_only_where_math_verify_said_not_equal(monkeypatch):
    calls = []
    probe = verify._equal_at_probe_points
    monkeypatch.setattr(verify, "_equal_at_probe_points", lambda g, p: calls.append((g, p)) or probe(g, p))
    assert verify.verify_answer("3x + x^3 - 6", "x^3+3x-6") is True  # sympy decides
    assert verify.verify_answer("x + 2", "x + 1") is False  # the quick check: 2 != 1 at any point
    assert calls == []
    assert verify.verify_answer(r"\frac{\sinh(kx)}{k}", r"\frac{e^{kx}-e^{-kx}}{2k}") is True
    assert len(calls) == 1


x, y = sympy.symbols("x y", real=True)
SINH, EXPONENTIALS = sympy.sinh(x), (sympy.exp(x) - sympy.exp(-x)) / 2


@pytest.mark.parametrize(
    "gold, pred",
    [
        (sympy.Eq(y, EXPONENTIALS), sympy.Eq(y, SINH)),  # relations
        (sympy.FiniteSet(EXPONENTIALS), sympy.FiniteSet(SINH)),  # sets
        (sympy.Tuple(EXPONENTIALS, 1), sympy.Tuple(SINH, 1)),  # tuples
        (EXPONENTIALS, sympy.sinh(y)),  # other free symbols
        (sympy.sinh(sympy.Integer(1)), (sympy.E - 1 / sympy.E) / 2),  # constants: math-verify's to compare
    ],
    ids=["relations", "sets", "tuples", "other symbols", "constants"],
)
def test_the_probe_does_not_apply(gold, pred):
    assert verify._equal_at_probe_points(gold, pred) is False


def test_the_probe_applies_to_expressions_in_the_same_symbols():
    assert verify._equal_at_probe_points(EXPONENTIALS, SINH) is True
    assert verify._equal_at_probe_points(EXPONENTIALS, sympy.cosh(x)) is False
    # equal for x > 0 only: at a negative probe point log(x^2) / 2 is real and log(x) is not
    assert verify._equal_at_probe_points(sympy.log(x**2) / 2, sympy.log(x)) is False


# --- Multiple choice answered by the option's content: the letter named next to the box.

G_C, G_A, G_B = r"\text{(C)}", r"\text{(A)}", "B"  # "(A) Line (B) Circle (C) Plane" in the problem
CHOICE_RESPONSES = [
    (r"The surface is a plane, so the answer is $\boxed{\text{Plane}}$, which is option (C).", G_C, True),
    (r"The surface is a plane, so the answer is $\boxed{\text{Plane}}$, which is option (B).", G_C, False),
    (r"The answer is (C) $\boxed{\text{Plane}}$", G_C, True),
    (r"So the answer is $\boxed{\text{Plane}}$.", G_C, False),  # no letter: which option Plane is, is not known here
    (r"The answer is $\boxed{\text{Plane}}$, not option (A).", G_A, False),
    (r"Is it (A) or (C)? I say $\boxed{\text{Plane}}$.", G_A, False),  # two letters: no choice made
    (r"$\boxed{B}$, which is option (B).", G_B, True),
    (r"so $\boxed{\frac{1}{2}}$ (B)", G_B, True),
    (r"$\boxed{4}$, which is option (B).", "4", True),  # a gold that is no letter: the box is graded as it is
    (r"$\boxed{P(A)}$", G_A, False),  # a probability, not option A
]


@pytest.mark.parametrize(
    "response, gold, expected", CHOICE_RESPONSES, ids=[f"{g} <- {r[-45:]}" for r, g, _ in CHOICE_RESPONSES]
)
def test_option_content_is_graded_by_the_letter_named_next_to_the_box(pool, response, gold, expected):
    assert grade_responses([response], [gold], pool=pool).correct == [expected]


# Where the problem's options are known (a source's `options` column), the option's content counts as its letter.
WORDS = {"A": "Line", "B": "Circle", "C": "Plane"}
NUMBERS = {"A": "3", "B": r"\frac{1}{2}", "C": r"2\sqrt{2}"}
OPTION_RESPONSES = [
    (r"So the answer is $\boxed{\text{Plane}}$.", "C", WORDS, True),  # unknown without the options (above)
    (r"So the answer is $\boxed{\text{Circle}}$.", "C", WORDS, False),
    (r"$\boxed{0.5}$", "B", NUMBERS, True),  # graded against the content as any answer is: 0.5 = 1/2
    (r"$\boxed{\sqrt{8}}$", r"\text{(C)}", NUMBERS, True),
    (r"$\boxed{3}$", "B", NUMBERS, False),  # option A's content
    (r"$\boxed{B}$", "B", NUMBERS, True),  # a letter is still graded as a letter
    (r"$\boxed{(A)}$", "B", NUMBERS, False),
    (r"$\boxed{\text{Plane}}$, which is option (A).", "C", WORDS, False),  # the letter it names decides
    (r"$\boxed{0.5}$", "B", None, False),  # no options known: 0.5 is not B
    (r"$\boxed{0.5}$", "0.5", NUMBERS, True),  # a gold that is no letter is graded as it is
    ("so it is 1/2", "B", NUMBERS, False),  # no box: the fallback is not mapped to an option
]


@pytest.mark.parametrize(
    "response, gold, options, expected", OPTION_RESPONSES,
    ids=[f"{g} <- {r[-30:]} ({'options' if o else 'none'})" for r, g, o, _ in OPTION_RESPONSES],
)  # fmt: skip
def test_an_answer_holding_an_options_content_is_graded_as_its_letter(pool, response, gold, options, expected):
    assert grade_responses([response], [gold], pool=pool, options=[options]).correct == [expected]


def test_option_sets_must_match_the_responses(pool):
    with pytest.raises(ValueError, match="2 responses but 1 option sets"):
        grade_responses(["a", "b"], ["A", "B"], pool=pool, options=[None])


# --- A truncated response gets no credit from a fallback, and that is counted.

LOOPING = "so x = 4. But wait, this is not the final"
# (response, answer format, truncated, correct, fallback denied), gold 4
TRUNCATED_RESPONSES = [
    (LOOPING, "boxed", True, False, True),
    (LOOPING, "boxed", False, True, False),  # finished: the paper's fallback reads its last number
    (r"so $x = \boxed{4}$. But wait, let me check", "boxed", True, True, False),  # a closed box is a marked answer
    (r"so $x = \boxed{4", "boxed", True, False, False),  # no answer at all, so no fallback to deny
    ("<think>x = 4</think> <answer>x = 4. But wait", "answer_tag", True, False, True),
    ("<think>x = 4</think> <answer>x = 4. But wait", "answer_tag", False, True, False),
    ("<think>x = 4</think> <answer>the answer is 4", "answer_tag", True, True, False),  # "the answer is" marks it
    ("<think>x = 4</think> <answer>4</answer>", "answer_tag_strict", True, True, False),
]


@pytest.mark.parametrize("response, answer_format, truncated, correct, denied", TRUNCATED_RESPONSES)
def test_a_truncated_response_gets_no_credit_from_a_fallback(pool, response, answer_format, truncated, correct, denied):
    result = grade_responses([response], ["4"], pool=pool, answer_format=answer_format, truncated=[truncated])
    assert (result.correct, result.fallback_denied) == ([correct], [denied])


def test_evaluation_denies_the_fallback_of_its_own_reading():
    # Evaluation reads an answer_tag response by the rules on the whole response: a box in the reasoning
    # is its answer, truncated or not; without one, the last number is a fallback.
    boxed = r"<think>\boxed{4}</think> <answer>x = 5. But"
    assert read_response(boxed, "4", "answer_tag", evaluation=True, truncated=True) == (Task("4", "4"), False)
    bare = "<think>x = 4</think> <answer>x = 5. But"
    assert read_response(bare, "4", "answer_tag", evaluation=True, truncated=True) == (Task(None, "4"), True)


def test_fallback_denials_are_a_share_of_the_evaluated_samples():
    records = [
        dict(problem_id="a", correct=False, is_code=False, parse_failed=True, finished=False, response_tokens=32,
             grader_timeout=False, fallback_denied=True),
        dict(problem_id="a", correct=True, is_code=False, parse_failed=False, finished=True, response_tokens=10,
             grader_timeout=False, fallback_denied=False),
        dict(problem_id="b", correct=False, is_code=False, parse_failed=True, finished=False, response_tokens=32,
             grader_timeout=False, fallback_denied=False),  # cut inside its box: no fallback to deny
        dict(problem_id="b", correct=False, is_code=False, parse_failed=False, finished=True, response_tokens=12,
             grader_timeout=False),  # a record written before the column existed
    ]  # fmt: skip
    metrics = summarize(records)
    assert metrics["fallback_denied_truncated"] == 0.25 and metrics["truncated_rate"] == 0.5


def test_truncated_flags_must_match_the_responses(pool):
    with pytest.raises(ValueError, match="2 responses but 1 truncated flags"):
        grade_responses(["4", "5"], ["4", "5"], pool=pool, truncated=[True])


# --- A blank gold answer is a data error, never a 0 for every response.


@pytest.mark.parametrize("blank", ["", "   ", r"\text{ }", "$$", "{}", r"\boxed{}", None], ids=repr)
def test_a_blank_gold_answer_is_an_error_naming_its_position(pool, blank):
    with pytest.raises(ValueError, match="gold answer 1 is blank"):
        grade_responses([r"\boxed{4}", r"\boxed{}", r"\boxed{5}"], ["4", blank, "5"], pool=pool)
    with pytest.raises(ValueError, match="gold answer 1 is blank"):
        grade_answers(["4", "4"], ["4", blank], pool=pool)


@pytest.mark.parametrize("gold, pred", [("0", "0"), (r"\{\}", r"\emptyset"), (r"\emptyset", r"\{\}")])
def test_an_empty_answer_written_out_is_no_blank_gold(pool, gold, pred):
    assert grade_answers([pred], [gold], pool=pool).correct == [True]
