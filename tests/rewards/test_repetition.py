import doctest
import random
import re

import pytest

import rlvr.rewards.repetition as repetition
from rlvr.rewards.repetition import has_repeated_block

# Checked against the plain regex, which tries every start and every block length.


def regex_repeated(text, min_len=10, max_len=256, min_repeats=10):
    return re.search(rf"(.{{{min_len},{max_len}}}?)\1{{{min_repeats - 1},}}", text, re.S) is not None


def distinct_block(length, seed=0):
    """A block with no shorter period: distinct characters (from a large alphabet)."""
    return "".join(random.Random(seed).sample([chr(c) for c in range(0x4E00, 0x4E00 + 2000)], length))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Let me compute. " * 40, True),
        ("Let me compute. " * 10, True),  # exactly 10 copies of a 16-character block
        ("Let me compute. " * 9, False),
        ("Let me compute. " * 9 + "Let me compute.", False),  # the 10th copy lacks its last character
        ("intro " + "Let me compute. " * 10 + "outro", True),
        ("a" * 100, True),  # "aaaaaaaaaa" ten times
        ("a" * 99, False),
        ("ab" * 50, True),  # "ababababab" ten times
        ("ab" * 49, False),
        (distinct_block(10) * 10, True),  # the shortest block
        (distinct_block(10) * 9, False),
        (distinct_block(9) * 10, False),  # too short a block; 90 characters hold no 10 copies of 18
        (distinct_block(9) * 19, False),
        (distinct_block(9) * 20, True),  # ... but 180 characters hold 10 copies of its double
        (distinct_block(256) * 10, True),  # the longest block
        (distinct_block(256) * 9, False),
        (distinct_block(257) * 10, False),  # too long a block
        (distinct_block(257) * 19, False),
        ("x" + distinct_block(40) * 10 + "y", True),
        (distinct_block(40) * 5 + "!" + distinct_block(40) * 5, False),  # broken in the middle
        ("αβγδεζηθικ" * 10, True),  # code points, not bytes
        ("🙂🙃" * 50, True),
        ("a\ud800" * 50, True),  # a lone surrogate (a bad decode) does not crash it
        ("", False),
        ("Let me compute.", False),
    ],
)
def test_has_repeated_block(text, expected):
    assert has_repeated_block(text) is expected
    assert regex_repeated(text) is expected  # the table itself agrees with the definition


def random_text(rng, alphabet, max_parts=4):
    """Random text over a small alphabet, some parts with a repeated block planted (sometimes one copy short)."""
    parts = []
    for _ in range(rng.randint(1, max_parts)):
        if rng.random() < 0.5:
            parts.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80))))
        else:
            block = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
            parts.append(block * rng.randint(2, 12) + block[: rng.randint(0, len(block))])
    return "".join(parts)


@pytest.mark.parametrize(
    "min_len, max_len, min_repeats",
    [(10, 256, 10), (3, 20, 4), (6, 12, 2), (1, 5, 3), (5, 5, 3), (2, 30, 3), (4, 12, 6)],
)
def test_has_repeated_block_agrees_with_the_regex_on_random_text(min_len, max_len, min_repeats):
    rng = random.Random(f"{min_len}-{max_len}-{min_repeats}")
    found = 0
    for _ in range(400):
        text = random_text(rng, rng.choice(["ab", "abc", "abcdefgh", "xy z\n"]))
        expected = regex_repeated(text, min_len, max_len, min_repeats)
        assert has_repeated_block(text, min_len=min_len, max_len=max_len, min_repeats=min_repeats) is expected, text
        found += expected
    assert 20 <= found <= 380  # both outcomes are well represented


def test_has_repeated_block_on_long_responses():
    rng = random.Random(0)
    words = ["the", "answer", "is", "so", "we", "get", "$x^2$", r"\frac{1}{2}", "=", "+", "12.8", "Wait,", "Let"]
    text = " ".join(rng.choice(words) for _ in range(3000))[:12_000]
    assert not has_repeated_block(text) and not regex_repeated(text)
    # one loop anywhere in a long response is found: at the start, the middle, the very end
    loop = "Let me recompute that. " * 10
    for where in [0, 6000, len(text)]:
        looping = text[:where] + loop + text[where:]
        assert has_repeated_block(looping) and regex_repeated(looping)
        assert not has_repeated_block(text[:where] + loop[:-1] + text[where:])


@pytest.mark.parametrize("kwargs", [{"min_len": 0}, {"min_len": 20, "max_len": 10}, {"min_repeats": 1}])
def test_has_repeated_block_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError, match="repetition needs"):
        has_repeated_block("a" * 100, **kwargs)


def test_doctests():
    result = doctest.testmod(repetition)
    assert result.attempted > 0 and result.failed == 0
