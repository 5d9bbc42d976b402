import doctest

import pytest

import rlvr.rewards.extract as extract
from rlvr.rewards.extract import (
    ANSWER_FORMATS,
    EVALUATION_FORMATS,
    after_answer_tag,
    answer_by_rules,
    box_content,
    evaluation_format,
    extract_answer,
    format_answer,
    has_boxed,
    is_code_reasoning,
    last_answer_span,
    last_boxed,
)


@pytest.mark.parametrize(
    "response, expected",
    [
        (r"Therefore the probability is $\frac{1}{2}$, so the answer is \boxed{\frac{1}{2}}.", r"\frac{1}{2}"),
        (r"\boxed{\frac{\sqrt{3}}{2}}", r"\frac{\sqrt{3}}{2}"),
        (r"so $x = \boxed {070}$", "070"),
        (r"\fbox{42}", "42"),
        (r"First I thought \boxed{3}, but checking again gives \boxed{4}.", "4"),
        (r"\boxed{\{1, 2\}}", r"\{1, 2\}"),  # escaped braces are content
        (r"\boxed{\left\{ x \right.}", r"\left\{ x \right."),  # one-sided \left\{ does not open a group
        (r"\boxed{a \\ b}", r"a \\ b"),  # a LaTeX line break before nothing special
        (r"\boxed{}", ""),
        ("```python\nprint(2 + 3)\n```\nOutput: 5, so \\boxed{5}", "5"),
        (r"\boxed{(1, 2)} and then some text {with braces}", "(1, 2)"),
        # no answer:
        ("The answer is 5", None),
        ("", None),
        (r"So the answer is \boxed{12", None),  # truncated at the length limit
        (r"\boxed{3} ... so it is \boxed{\frac{1}{2}", None),  # the last box is unfinished: no final answer
        (r"\boxed{a\}", None),  # an escaped brace does not close the box
    ],
)
def test_last_boxed(response, expected):
    assert last_boxed(response) == expected


@pytest.mark.parametrize(
    "response, expected",
    [(r"\boxed{12", True), (r"\fbox {x}", True), ("boxed{1}", False), ("The answer is 12", False)],
)
def test_has_boxed(response, expected):
    assert has_boxed(response) is expected


@pytest.mark.parametrize(
    "response, expected",
    [
        ("```python\nprint(2 + 3)\n```\n\\boxed{5}", True),
        ("Let me write Python code to check.", True),
        ("I'll use PYTHON.", True),
        ("By Vieta's formulas the sum is \\boxed{5}", False),
        ("", False),
    ],
)
def test_is_code_reasoning(response, expected):
    assert is_code_reasoning(response) is expected


@pytest.mark.parametrize(
    "response, expected",
    [
        ("<think>64 / 5 = 12.8</think> <answer>12.8</answer>", "12.8"),
        ("<think>64 / 5 = 12.8</think> <answer> 12.8 </answer>", "12.8"),  # the span is stripped
        (r"<think>64 / 5</think> <answer>\boxed{12.8}</answer>", "12.8"),  # a box inside the span wins
        (r"<answer>The speed is \boxed{\frac{64}{5}} km/h.</answer>", r"\frac{64}{5}"),
        ("<answer>1</answer> Wait, that is wrong. <answer>2</answer>", "2"),  # the last span decides
        ("<answer>\n\\frac{1}{2}\n</answer>", r"\frac{1}{2}"),
        ("<answer>a <answer>b</answer>", "b"),  # the innermost opening before the last close
        ("<answer></answer>", ""),  # a blank answer: "" (graded incorrect, no format reward)
        # no answer:
        ("<think>64 / 5 = 12.8</think>", None),
        ("<think>64 / 5</think> <answer>12.8", None),  # cut at the length limit: no closing tag
        ("<answer>1</answer> Wait. <answer>2", None),  # the last answer was cut: no final answer
        (r"<answer>\boxed{12</answer>", None),  # a box in the span that never closes
        (r"So the answer is \boxed{12.8}.", None),  # a box outside any span is not this format's answer
        ("12.8</answer>", None),
        ("", None),
    ],
)
def test_answer_tag_strict(response, expected):
    # Until the paper's reading became `answer_tag` (version 2), this table was `answer_tag`'s.
    assert extract_answer(response, "answer_tag_strict") == expected


# The paper's training reading of R1-template responses (qwen_math_parser.py: extract_answer, is_r1_style=True):
# the text after the last <answer>, less a closing tag, then the box / "the answer is" / last-number rules.
@pytest.mark.parametrize(
    "response, expected",
    [
        ("<think>64 / 5 = 12.8</think> <answer>12.8</answer>", "12.8"),
        ("<think>64 / 5 = 12.8</think> <answer> 12.8 </answer>", "12.8"),  # the last number
        (r"<think>64 / 5</think> <answer>\boxed{12.8}</answer>", "12.8"),  # a box wins
        (r"<answer>The speed is \boxed{\frac{64}{5}} km/h.</answer>", r"\frac{64}{5}"),
        ("<answer>1</answer> Wait, that is wrong. <answer>2</answer>", "2"),  # after the last <answer>
        ("<answer>\n\\frac{1}{2}\n</answer>", "2"),  # a bare fraction: its last number, 2
        (r"<answer>\frac{14}{3}</answer>", "3"),
        ("<answer>x = 5 meters</answer>", "5"),
        ("<answer>-2, 1</answer>", "1"),  # commas dropped: "-2 1", last number 1
        ("<answer>10,080</answer>", "10080"),
        ("<answer>The answer is (C).</answer>", "(C)"),  # "he answer is": the rest, less its final "."
        ("<answer>The answer is: 7</answer>", "7"),  # and less a leading ":"
        ("<answer>the answer is 7 apples</answer>", "7 apples"),  # all of the rest (official rstrip: "7 appl")
        ("<answer>x^2</answer>", "2"),
        ("<answer>(C)</answer>", None),  # no box, no "answer is", no number: no answer
        ("<answer></answer>", None),
        ("<answer>a <answer>b</answer>", None),  # "b": no number
        # without a closed span, the text after the last <answer>, or the whole response:
        ("<think>64 / 5 = 12.8</think>", "12.8"),
        ("<think>64 / 5</think> <answer>12.8", "12.8"),  # cut before </answer>
        ("<answer>1</answer> Wait. <answer>2", "2"),
        (r"<answer>\boxed{12</answer>", "12"),  # a box that never closes: up to the end (the tag removed)
        (r"So the answer is \boxed{12.8}.", "12.8"),  # a box outside any span
        (r"<think>\boxed{3}</think> <answer>4</answer>", "4"),  # a box before the last <answer> does not count
        ("12.8</answer>", "12.8"),
        ("I do not know.", None),
        ("", None),
    ],
)
def test_answer_tag(response, expected):
    assert extract_answer(response, "answer_tag") == expected


# The paper's rules on a whole response (its evaluation of base models: eval_checkpoint.py, verify task "math").
@pytest.mark.parametrize(
    "response, expected",
    [
        (r"<think>\boxed{3}</think> <answer>4</answer>", "3"),  # the box wins, even in the reasoning
        ("<think>64 / 5 = 12.8</think> <answer>12.8</answer>", "12.8"),  # the last number
        (r"<think>3x = 14</think> <answer>\frac{14}{3}</answer>", "3"),
        ("<think>so the answer is 7</think> <answer>7</answer>", "7</think> <answer>7</answer>"),  # the rest of it
        ("The final answer is $\\frac{1}{2}$. I hope it is correct.", r"\frac{1}{2}"),  # Minerva's phrase
        ("The final answer is 12. Done", "12. Done"),
        (r"so \boxed 5$ and 6", "5"),  # a box without braces: up to the next $
        (r"so \boxed{\frac{1}{2", r"\frac{1}{2"),  # a box that never closes: up to the end
        (r"\fbox{5} then 6", "6"),  # \fbox is no box here
        ("-3 and 4.5.", "4.5"),
        ("x = -.5", "-.5"),
        ("答案是 7\n\nmore", "7"),
        ("The answer is\n  12.8", "12.8"),  # line breaks and the spaces after them removed
        ("The answer is 12.8 /", "12.8"),  # a trailing "/" dropped, then the space
        ("no number here", None),
        ("", None),
    ],
)
def test_answer_rules(response, expected):
    assert extract_answer(response, "answer_rules") == answer_by_rules(response) == expected


@pytest.mark.parametrize(
    "response, expected",
    [
        (r"\boxed{\frac{1}{2}} and {more}", r"\frac{1}{2}"),
        (r"$\boxed {5}$", "{5}"),  # "boxed" not followed by "{": up to the next $, stripped
        (r"\boxed 5", "5"),
        (r"\boxed{12", "12"),
        (r"\boxed{3} then \boxed{", ""),
        (r"\boxed{\{1, 2\}}", r"\{1, 2\}"),
        ("the unboxed answer", "answer"),  # any "boxed" counts, as in the official code
        (r"\fbox{5}", None),
        ("no box", None),
    ],
)
def test_box_content(response, expected):
    assert box_content(response) == expected


@pytest.mark.parametrize(
    "response, expected",
    [
        ("<think>..</think> <answer>12.8</answer>", "12.8"),
        ("<answer>1</answer> no: <answer>n</answer>", "n"),  # the official rstrip("</answer>") would leave ""
        ("<answer>12.8", "12.8"),
        ("<answer>", ""),
        ("12.8 </answer>", "12.8 "),
        ("12.8</answer>\n", "12.8</answer>\n"),  # a tag that does not end the text stays
    ],
)
def test_after_answer_tag(response, expected):
    assert after_answer_tag(response) == expected


# What the format reward checks (qwen_math_parser.py: extract_answer_box_only); None: not formatted.
@pytest.mark.parametrize(
    "response, answer_format, expected",
    [
        (r"so \boxed{42}.", "boxed", "42"),
        (r"\boxed 42", "boxed", "42"),
        (r"cut inside \boxed{4", "boxed", "4"),
        (r"\boxed{ }", "boxed", None),
        (r"\boxed{}", "boxed", None),
        (r"\boxed{3} then \boxed{", "boxed", None),
        (r"\boxed{$}", "boxed", None),
        (r"\fbox{42}", "boxed", None),
        ("The answer is 42", "boxed", None),  # no "the answer is" or last number here: box only
        (r"\boxed{42}", "answer_rules", "42"),
        ("42", "answer_rules", None),
        ("<answer>42</answer>", "answer_tag", "42"),
        ("<think>no idea</think>", "answer_tag", "<think>no idea</think>"),  # no tag: the whole response
        ("<answer> </answer>", "answer_tag", " "),  # not stripped: spaces count
        ("<answer></answer>", "answer_tag", None),
        ("", "answer_tag", None),
        ("<answer>42</answer>", "answer_tag_strict", "42"),
        ("<answer> </answer>", "answer_tag_strict", None),
        ("<answer>42", "answer_tag_strict", None),
    ],
)
def test_format_answer(response, answer_format, expected):
    assert format_answer(response, answer_format) == expected


def test_answer_span_is_unstripped():
    assert last_answer_span("<answer> 12.8\n</answer>") == " 12.8\n"


@pytest.mark.parametrize("response", [r"so \boxed{\frac{1}{2}}.", r"\boxed{3} ... \boxed{12", "The answer is 5", ""])
def test_boxed_format_is_the_last_box(response):
    assert extract_answer(response, "boxed") == extract_answer(response) == last_boxed(response)


def test_answer_formats():
    assert ANSWER_FORMATS.names() == ["answer_rules", "answer_tag", "answer_tag_strict", "boxed"]
    assert {name: ANSWER_FORMATS.entry(name).version for name in ANSWER_FORMATS} == {
        "answer_rules": 1, "answer_tag": 2, "answer_tag_strict": 1, "boxed": 1,
    }  # fmt: skip
    with pytest.raises(KeyError, match="unknown answer format 'boxd'; did you mean 'boxed'"):
        extract_answer(r"\boxed{1}", "boxd")
    for name in ANSWER_FORMATS:  # every format has a format-reward reading and an evaluation format
        format_answer("", name)
        assert evaluation_format(name) in ANSWER_FORMATS
    assert EVALUATION_FORMATS == {"answer_tag": "answer_rules"}
    for check in (format_answer, evaluation_format):
        with pytest.raises(KeyError, match="unknown answer format 'answer_tags'; did you mean 'answer_tag'"):
            check("<answer>1</answer>", "answer_tags") if check is format_answer else check("answer_tags")


def test_doctests():
    result = doctest.testmod(extract)
    assert result.attempted > 0 and result.failed == 0
