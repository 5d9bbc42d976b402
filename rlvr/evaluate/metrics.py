"""Evaluation metrics: pass@k, avg@k and a benchmark's summary from its per-sample records.

Pure functions on plain numbers and rows, so that the analysis code can recompute any of them from a
run's ``eval/step_<n>.parquet`` without the model.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Iterable, Mapping, Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem with ``c`` correct among ``n`` samples (Chen et al. 2021, eq. 1):
    the chance that ``k`` samples drawn without replacement from the ``n`` hold a correct one,
    ``1 - C(n - c, k) / C(n, k)``, computed as a product that never forms a big binomial.

    >>> pass_at_k(8, 0, 1), pass_at_k(8, 8, 8), pass_at_k(8, 1, 8)
    (0.0, 1.0, 1.0)
    >>> pass_at_k(4, 1, 2)  # 1 - C(3, 2) / C(4, 2) = 1 - 3/6
    0.5
    """
    if not 0 <= c <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n, got c={c}, n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"pass@{k} needs 1 <= k <= n samples, got n={n}")
    if n - c < k:  # every draw of k holds a correct sample
        return 1.0
    # C(n-c, k) / C(n, k) = prod_{i = n-c+1}^{n} (1 - k / i)
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def mean_pass_at_k(correct_per_problem: Sequence[Sequence[bool]], k: int) -> float:
    """pass@k over problems: the mean of each problem's unbiased pass@k.

    >>> mean_pass_at_k([[True, False], [False, False]], 1), mean_pass_at_k([[True, False], [False, False]], 2)
    (0.25, 0.5)
    """
    if not correct_per_problem:
        raise ValueError("pass@k of no problems")
    return sum(pass_at_k(len(c), sum(c), k) for c in correct_per_problem) / len(correct_per_problem)


def avg_at_k(correct_per_problem: Sequence[Sequence[bool]]) -> float:
    """avg@k: the mean accuracy of the k samples of each problem, averaged over problems (equal weight
    per problem even if a problem had fewer samples).

    >>> avg_at_k([[True, False, False, False], [True, True, True, True]])  # (1/4 + 1) / 2
    0.625
    """
    if not correct_per_problem:
        raise ValueError("avg@k of no problems")
    return sum(sum(c) / len(c) for c in correct_per_problem) / len(correct_per_problem)


def _rate(flags: Sequence[bool]) -> float:
    """Share of True; NaN for no flags, so that "no such responses" never reads as 0%."""
    return sum(flags) / len(flags) if flags else float("nan")


def summarize(records: Iterable[Mapping[str, Any]], pass_k: Sequence[int] = (1,)) -> dict[str, float]:
    """A benchmark's metrics from its per-sample records.

    Each record has ``problem_id``, ``correct``, ``is_code``, ``parse_failed``, ``finished``,
    ``response_tokens`` and ``grader_timeout``. Reported:

    - ``accuracy``: avg@n, the mean correctness of all samples (per problem, then over problems);
      for a greedy benchmark (one sample each) it is pass@1. ``avg@<n>`` repeats it under the
      paper's name when there are n > 1 samples per problem.
    - ``pass@<k>`` for each k of ``pass_k`` that is at most the samples per problem.
    - ``code_rate``: share of responses that reason in code (the paper's "python" rule);
      ``accuracy_code`` / ``accuracy_no_code``: the accuracy of those responses and of the others
      (NaN when there are none).
    - ``parse_failure_rate`` (no final answer found), ``truncated_rate`` (hit the token limit),
      ``fallback_denied_truncated`` (share of responses that hit the token limit without a marked answer,
      whose fallback answer, e.g. a last number, was not graded; records without ``fallback_denied``
      count as not denied), ``response_tokens_mean``, ``grader_timeouts``, ``num_problems``, ``num_samples``.

    >>> rows = [dict(problem_id=p, correct=c, is_code=k, parse_failed=False, finished=True, response_tokens=10,
    ...              grader_timeout=False) for p, c, k in [("a", True, True), ("a", False, False), ("b", False, True), ("b", False, True)]]
    >>> s = summarize(rows, pass_k=[1, 2])
    >>> s["accuracy"], s["pass@2"], s["code_rate"], s["accuracy_code"], s["accuracy_no_code"]
    (0.25, 0.5, 0.75, 0.3333333333333333, 0.0)
    """
    records = list(records)
    if not records:
        raise ValueError("no records to summarize")
    by_problem: dict[str, list[bool]] = defaultdict(list)
    for r in records:
        by_problem[r["problem_id"]].append(bool(r["correct"]))
    per_problem = list(by_problem.values())
    samples = min(len(c) for c in per_problem)
    out: dict[str, float] = {"accuracy": avg_at_k(per_problem)}
    if samples > 1:
        out[f"avg@{samples}"] = out["accuracy"]
    for k in pass_k:
        if k <= samples:
            out[f"pass@{k}"] = mean_pass_at_k(per_problem, k)
    code = [bool(r["correct"]) for r in records if r["is_code"]]
    plain = [bool(r["correct"]) for r in records if not r["is_code"]]
    out |= {
        "code_rate": len(code) / len(records),
        "accuracy_code": _rate(code),
        "accuracy_no_code": _rate(plain),
        "parse_failure_rate": _rate([bool(r["parse_failed"]) for r in records]),
        "truncated_rate": _rate([not r["finished"] for r in records]),
        "fallback_denied_truncated": _rate([bool(r.get("fallback_denied", False)) for r in records]),
        "response_tokens_mean": sum(r["response_tokens"] for r in records) / len(records),
        "grader_timeouts": float(sum(bool(r["grader_timeout"]) for r in records)),
        "num_problems": float(len(per_problem)),
        "num_samples": float(len(records)),
    }
    return out
