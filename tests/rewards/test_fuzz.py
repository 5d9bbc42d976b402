r"""Adversarial responses: whatever a policy writes (towers of exponents, huge factorials, 20k nested braces,
megabyte strings, random bytes, lone surrogates), every reward and every reading of a response returns a
score within a deadline, the grader scores it 0 (counted as a timeout where its worker was killed), sane
answers mixed in still grade right, and the grader's pool answers promptly afterwards.

Deadlines: a reading in the trainer process (the string helpers, the string rules) is linear in the text, a
few seconds for 1 MB on one loaded core, so ``IN_PROCESS_S`` per call; a grading call sends at most one task
per distinct response to the workers, each killed ``TIMEOUT_S`` after it started, two at a time, so a call of
n responses ends within ``ceil(n / WORKERS) * TIMEOUT_S`` plus the in-process reading (``SLACK_S``).
"""

from __future__ import annotations

import math
import os
import random
import time

import psutil
import pytest

import rlvr.rewards.grader as grader
from rlvr.rewards import ANSWER_FORMATS, REWARDS, GraderPool, build_reward, extract_answer, format_answer, grade_responses
from rlvr.rewards.extract import is_code_reasoning
from rlvr.rewards.grader import response_task
from rlvr.rewards.repetition import has_repeated_block

GOLD = "31415926"  # no junk below spells it, by construction or by chance (8 given digits)
TIMEOUT_S, WORKERS = 2.0, 2
IN_PROCESS_S = 10.0
SLACK_S = 20.0
MB = 1_000_000

_rng = random.Random(0)
_bytes = bytes(_rng.randrange(256) for _ in range(20_000))

# name -> response; every one gives no answer or a wrong one for GOLD
CORPUS = {
    "tower of exponents": r"so \boxed{9^{9^{9^{9^{9^{9^9}}}}}}",
    "bare tower": "9^{9^{9^{9^{9^{9^{9^9}}}}}}",
    "factorial of a million": r"\boxed{1000000!}",
    "factorial of a googol": r"\boxed{(10^{100})!}",
    "power of a power": r"\boxed{2^{2^{100}}}",
    "square root of a tower": r"\boxed{\sqrt{10^{10^{10}}}}",
    "20k nested braces in a box": r"\boxed{" + "{" * 20_000 + "1" + "}" * 20_000 + "}",
    "20k braces never closed": r"\boxed{" + "{" * 20_000,
    "2k nested fractions": r"\boxed{" + r"\frac{1}{" * 2_000 + "2" + "}" * 2_000 + "}",
    "random bytes as latin-1": _bytes.decode("latin-1"),
    "random bytes with lone surrogates": _bytes.decode("utf-8", "surrogateescape"),
    "lone surrogates around a box": "\ud800\udfff\ud83d" + r"\boxed{\ud800}" + "x\udc00",
    "control characters": "\x00\x1b[2J\x7f" * 1_000 + r"\boxed{\x00}",
    "100k answer tags": "<answer>" * 100_000,
    "100k boxes": r"\boxed{1}" * 100_000,
}
# the megabyte ones (slow: seconds each in the trainer process)
# (a megabyte is about 250k tokens: 80 times the paper's longest response, and every reading is linear in it)
BIG = {
    "1 MB of one letter": "a" * MB,
    "1 MB of digits in a box": r"\boxed{" + "1" * MB + "}",
    "1 MB of spaced digits": "1 " * (MB // 2),
    "1 MB looping": "Let me compute. " * (MB // 16),
}
# (response, correct against GOLD): the sane answers mixed in with the junk
SANE = [
    (rf"so the answer is \boxed{{{GOLD}}}.", True),
    (rf"<think>add</think> <answer>\boxed{{{GOLD}}}</answer>", True),
    (r"\boxed{27}", False),
]
FALLBACK = f"Adding them up, the answer is {GOLD}"  # no box: graded by a worker, in math-verify


def timed(fn, *args, **kwargs):
    started = time.monotonic()
    result = fn(*args, **kwargs)
    return result, time.monotonic() - started


def readings(text: str) -> dict[str, object]:
    """Every reading of a response the trainer process makes itself, timed: name -> (value, seconds)."""
    out = {}
    for fmt in ANSWER_FORMATS.names():
        out[f"extract_answer/{fmt}"] = timed(extract_answer, text, fmt)
        out[f"format_answer/{fmt}"] = timed(format_answer, text, fmt)
        out[f"response_task/{fmt}"] = timed(response_task, text, GOLD, fmt)
        out[f"string rules/{fmt}"] = timed(grader._fast_verdict, out[f"response_task/{fmt}"][0])
    out["has_repeated_block"] = timed(has_repeated_block, text)
    out["is_code_reasoning"] = timed(is_code_reasoning, text)
    return out


# every reward that scores in the trainer process, with the context the trainer passes
LOCAL_REWARDS = [
    ("format", {}), ("python", {}), ("python", {"code_fence": True}), ("no_repetition", {}), ("random", {}),
    ("inverse", {"reward": {"name": "format"}}), ("all_of", {"rewards": [{"name": "format"}, {"name": "python"}]}),
]  # fmt: skip


def context(n: int, fmt: str) -> dict:
    return dict(seed=0, step=1, prompt_ids=list(range(n)), sample_indices=[0] * n, answer_format=fmt)


def check_readings(texts: dict[str, str]) -> None:
    for name, text in texts.items():
        for reading, (value, seconds) in readings(text).items():
            assert seconds < IN_PROCESS_S, f"{reading} took {seconds:.1f} s on {name}"
            if reading.startswith("string rules"):
                assert value in (False, None), f"{reading} judged {name} equal to {GOLD}"
    responses = list(texts.values())
    for fmt in ANSWER_FORMATS.names():
        for name, params in LOCAL_REWARDS:
            scores, seconds = timed(build_reward(name, **params), responses, [GOLD] * len(responses), **context(len(responses), fmt))
            assert seconds < IN_PROCESS_S * len(responses), f"{name} {params} took {seconds:.1f} s"
            assert len(scores) == len(responses) and set(scores) <= {0.0, 1.0}, (name, params, scores)


def test_every_local_reading_and_reward_returns_a_score_promptly():
    check_readings(CORPUS)
    assert set(REWARDS.names()) - {name for name, _ in LOCAL_REWARDS} == {"ground_truth", "ttrl"}  # graded below


@pytest.mark.slow
def test_megabyte_responses_are_read_promptly():
    check_readings(BIG)


def test_the_repetition_check_does_not_keep_megabytes_of_layout_per_long_text():
    """Its cached layouts take ~100 bytes per character: six 1-2 MB texts kept would hold more than 1 GB."""
    rss = psutil.Process(os.getpid()).memory_info().rss
    rng = random.Random(1)
    text = "".join(rng.choice("abcdefghij") for _ in range(2 * MB))
    for length in range(MB, 2 * MB + 1, MB // 5):
        assert not has_repeated_block(text[:length])  # random letters: no block of 10+ repeats 10 times
    assert psutil.Process(os.getpid()).memory_info().rss - rss < 300 * 2**20


def test_the_char_tokenizer_survives_junk_both_ways():
    """Responses are decoded from token ids, so any ids must decode to text every reading accepts; junk text
    (valid Unicode) encodes, unknown characters to the unknown token, and decodes back."""
    from rlvr.models.tiny import build_char_tokenizer

    tokenizer = build_char_tokenizer()
    rng = random.Random(2)
    ids = [rng.randrange(len(tokenizer)) for _ in range(5_000)]
    decoded = tokenizer.decode(ids)
    check_readings({"decoded random ids": decoded})
    junk = CORPUS["random bytes as latin-1"]
    encoded, seconds = timed(tokenizer.encode, junk, add_special_tokens=False)
    assert len(encoded) == len(junk) and seconds < IN_PROCESS_S  # one token per character, known or not
    braces = CORPUS["20k nested braces in a box"]  # printable ASCII only: every character has its token
    assert tokenizer.decode(tokenizer.encode(braces, add_special_tokens=False)) == braces


@pytest.fixture(scope="module")
def pool():
    with GraderPool(num_workers=WORKERS, timeout_s=TIMEOUT_S, warm_up=False) as pool:
        yield pool


def deadline(responses: int) -> float:
    return math.ceil(responses / WORKERS) * TIMEOUT_S + SLACK_S


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ANSWER_FORMATS.names())
def test_the_grader_scores_junk_0_within_its_deadline_and_sane_answers_right(pool, fmt):
    junk = list(CORPUS.values()) + list(BIG.values())
    responses = [r for r, _ in SANE] + junk + [FALLBACK]
    timeouts_before = pool.counts["timeouts"]
    graded, seconds = timed(grade_responses, responses, [GOLD] * len(responses), pool=pool, answer_format=fmt)
    assert seconds < deadline(len(junk) + len(SANE) + 1), f"{seconds:.1f} s"
    sane = [correct for _, correct in SANE]
    if fmt == "answer_tag_strict":
        sane = [False, True, False]  # only the tagged one gives an answer in a closed <answer> span
    assert graded.correct[: len(SANE)] == sane
    assert not any(graded.correct[len(SANE) : len(SANE) + len(junk)])  # junk scores 0
    assert sum(graded.timed_out) == pool.counts["timeouts"] - timeouts_before  # each one counted
    # afterwards, with workers killed and replaced, the pool answers at once: a response without a box is
    # graded by a worker (one not seen before: no remembered verdict)
    fresh = f"Case {ANSWER_FORMATS.names().index(fmt)}: adding them up, the answer is {GOLD}"
    again, seconds = timed(grade_responses, [fresh, SANE[2][0]], [GOLD] * 2, pool=pool)
    assert again.correct == [True, False] and not any(again.timed_out) and seconds < TIMEOUT_S + 5


@pytest.mark.slow
def test_the_rewards_that_grade_score_junk_0_and_sane_answers_1(pool, monkeypatch):
    monkeypatch.setattr(grader, "_shared", pool)  # the rewards' shared pool: this one, with its short deadline
    junk = list(CORPUS.values())[:6]  # the towers and factorials: math-verify's own slow cases
    responses = [SANE[0][0], *junk, SANE[2][0]]
    scores, seconds = timed(build_reward("ground_truth"), responses, [GOLD] * len(responses))
    assert scores == [1.0] + [0.0] * len(junk) + [0.0] and seconds < deadline(len(responses))
    # TTRL: two prompts of four votes; the first's majority is GOLD (2 of 4), the second's votes are all junk,
    # three towers that the grader cannot compare (each pair times out: not equal) and one factorial
    first = [SANE[0][0], junk[0], SANE[0][0], SANE[2][0]]
    second = [junk[0], junk[1], junk[4], junk[2]]
    scores, seconds = timed(build_reward("ttrl", n_votes=4), first[:2] + second[:2], [GOLD] * 4, vote_pools=[first, second])
    assert scores[:2] == [1.0, 0.0] and set(scores[2:]) <= {0.0, 1.0}
    assert seconds < 2 * deadline(4 * 4)  # at most every pair of distinct answers in a prompt, twice (labels, report)
