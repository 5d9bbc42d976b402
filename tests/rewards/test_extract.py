import doctest

import pytest

import rlvr.rewards.extract as extract
from rlvr.rewards.extract import has_boxed, is_code_reasoning, last_boxed


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


def test_doctests():
    result = doctest.testmod(extract)
    assert result.attempted > 0 and result.failed == 0
