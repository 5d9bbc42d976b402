"""pass@k, avg@k and a benchmark's summary, against values worked out by hand."""

from __future__ import annotations

import doctest
import math
from math import comb

import pytest

from rlvr.evaluate import metrics as metrics_module
from rlvr.evaluate.metrics import avg_at_k, mean_pass_at_k, pass_at_k, summarize


@pytest.mark.parametrize(
    "n, c, k, expected",
    [
        (5, 2, 2, 1 - 3 / 10),  # 1 - C(3,2)/C(5,2)
        (10, 3, 5, 1 - 21 / 252),  # 1 - C(7,5)/C(10,5)
        (8, 1, 1, 1 / 8),  # pass@1 is the share correct
        (8, 3, 1, 3 / 8),
        (8, 1, 8, 1.0),  # all 8 drawn: the correct one is among them
        (8, 0, 8, 0.0),
        (8, 7, 2, 1.0),  # only one wrong sample: any two hold a correct one
        (4, 1, 2, 1 - 3 / 6),
    ],
)
def test_pass_at_k_by_hand(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_equals_the_binomial_formula_everywhere():
    for n in range(1, 17):
        for c in range(n + 1):
            for k in range(1, n + 1):
                exact = 1 - comb(n - c, k) / comb(n, k)
                assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12), (n, c, k)


def test_pass_at_k_is_stable_for_many_samples():
    # 1 - C(1000, 100) / C(1024, 100): C(1024, 100) has about 140 digits, no float overflow allowed.
    exact = 1 - comb(1000, 100) / comb(1024, 100)
    assert pass_at_k(1024, 24, 100) == pytest.approx(exact, rel=1e-9)


@pytest.mark.parametrize("n, c, k", [(8, 1, 9), (8, 1, 0), (8, 9, 1), (8, -1, 1)])
def test_pass_at_k_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_mean_pass_at_k_and_avg_at_k_over_problems():
    per_problem = [[True, False, False, False], [False] * 4, [True] * 4]
    # pass@1 per problem: 1/4, 0, 1 -> mean 5/12; pass@2: 1 - C(3,2)/C(4,2) = 1/2, 0, 1 -> mean 1/2
    assert mean_pass_at_k(per_problem, 1) == pytest.approx(5 / 12)
    assert mean_pass_at_k(per_problem, 2) == pytest.approx(1 / 2)
    assert mean_pass_at_k(per_problem, 4) == pytest.approx(2 / 3)
    assert avg_at_k(per_problem) == pytest.approx(5 / 12)  # avg@k is pass@1 with k samples


def record(problem_id, correct, *, is_code=False, parse_failed=False, finished=True, tokens=10, timeout=False):
    return dict(problem_id=problem_id, correct=correct, is_code=is_code, parse_failed=parse_failed,
                finished=finished, response_tokens=tokens, grader_timeout=timeout)  # fmt: skip


def test_summary_of_an_avg_at_8_benchmark():
    # Problem a: 2 of 8 correct, both in code; b: 0 of 8, 4 in code; c: 8 of 8, none in code.
    records = (
        [record("a", i < 2, is_code=i < 2) for i in range(8)]
        + [record("b", False, is_code=i < 4, parse_failed=i == 0, finished=i != 1, tokens=30) for i in range(8)]
        + [record("c", True) for _ in range(8)]
    )
    s = summarize(records, pass_k=[1, 8])
    assert s["accuracy"] == pytest.approx((2 / 8 + 0 + 1) / 3)
    assert s["avg@8"] == s["accuracy"] and s["pass@1"] == pytest.approx(s["accuracy"])
    assert s["pass@8"] == pytest.approx(2 / 3)  # a and c have a correct sample
    assert s["code_rate"] == pytest.approx(6 / 24)
    assert s["accuracy_code"] == pytest.approx(2 / 6)  # a's two code samples right, b's four wrong
    assert s["accuracy_no_code"] == pytest.approx((0 + 0 + 8) / 18)  # a: 6 wrong, b: 4 wrong, c: 8 right
    assert s["parse_failure_rate"] == pytest.approx(1 / 24)
    assert s["truncated_rate"] == pytest.approx(1 / 24)
    assert s["response_tokens_mean"] == pytest.approx((16 * 10 + 8 * 30) / 24)
    assert (s["num_problems"], s["num_samples"], s["grader_timeouts"]) == (3, 24, 0)


def test_summary_of_a_greedy_benchmark_has_no_avg_at_k_and_nan_for_missing_groups():
    s = summarize([record("a", True), record("b", False), record("c", True, timeout=False)], pass_k=[1, 8])
    assert s["accuracy"] == pytest.approx(2 / 3) and "avg@1" not in s
    assert "pass@8" not in s  # more than the one sample each
    assert s["code_rate"] == 0 and math.isnan(s["accuracy_code"]) and s["accuracy_no_code"] == pytest.approx(2 / 3)


def test_doctests():
    assert doctest.testmod(metrics_module).failed == 0
