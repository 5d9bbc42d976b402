"""One grading pool for the grader's tables, and the one-batch way they grade answer pairs (imported by
test_grader_tables.py and test_grader_correctness.py: ``from _grading_tables import answer_verdicts_of, pool``)."""

from __future__ import annotations

from typing import Iterable

import pytest

from rlvr.rewards.grader import GraderPool, grade_answers


@pytest.fixture(scope="module")
def pool():
    """Two workers, warm for the whole module. The timeout is generous: a table case that reaches it is a
    failure of the case (``answer_verdicts_of`` refuses timeouts), never a verdict."""
    with GraderPool(num_workers=2, timeout_s=20.0, warm_up=False) as pool:
        yield pool


def answer_verdicts_of(pairs: Iterable[tuple[str, str]], pool: GraderPool) -> dict[tuple[str, str], bool]:
    """Every ``(pred, gold)`` pair graded in one batch (fast): pair -> correct. No pair may time out."""
    pairs = list(dict.fromkeys(pairs))
    result = grade_answers([p for p, _ in pairs], [g for _, g in pairs], pool=pool)
    assert not any(result.timed_out), [pair for pair, t in zip(pairs, result.timed_out) if t]
    return dict(zip(pairs, result.correct))
