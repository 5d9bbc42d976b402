"""What ``reward=majority_vote``, ``incorrect``, ``one_shot`` and ``ttrl`` train on, derived from the data's problems.

Each is the ``relabel`` node of its reward file (``_partial_: true``): a function of the data config's
``ProblemSet`` that returns the problems to train on. Held-out problems always keep their true
answers, so held-out accuracy means the same thing under every reward.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from rlvr.data.labels import incorrect_labels, true_answer_column, true_answers_for
from rlvr.data.loaders import find_problem, load_specs
from rlvr.data.problems import DataError, ProblemSet

log = logging.getLogger(__name__)


def majority_vote(data: ProblemSet, *, labels: Any, on_bad_row: str = "error") -> ProblemSet:
    """Train on a majority-vote label file (``answer`` = the model's most common answer). Each problem keeps
    its true answer (the file's ``true_answer`` column, else the same problem text in ``data``) so that
    correctness is always graded against the truth; where none is found, against the label (counted)."""
    loaded = load_specs(labels, on_bad_row=on_bad_row)
    truths = true_answers_for(loaded.problems, true_answer_column(labels, "true_answer"), truth=data, required=False)
    unknown = sum(t is None for t in truths)
    if unknown:
        log.warning("majority-vote labels: %d of %d problems have no true answer in the data; their "
                    "correctness is graded against the label", unknown, len(truths))  # fmt: skip
    return ProblemSet(
        name=f"{data.name}/majority_vote",
        train=tuple(replace(p, true_answer=t) for p, t in zip(loaded.problems, truths)),
        heldout=data.heldout,
        skipped=data.skipped + loaded.skipped,
    )


def incorrect(data: ProblemSet, *, labels: Any, on_bad_row: str = "error") -> ProblemSet:
    """Train on the wrong labels of a majority-vote file only (the paper's "incorrect label" reward).

    The true answer of a labelled problem is the file's ``true_answer`` column (our labeller writes
    one), else the answer of the same problem text in ``data`` (the paper's label files have none).
    """
    loaded = load_specs(labels, on_bad_row=on_bad_row)
    column = true_answer_column(labels, "true_answer")
    kept, report = incorrect_labels(loaded.problems, column, truth=data)
    log.info("incorrect labels: %s", report)
    if not kept:
        raise DataError(f"no wrong labels to train on in {labels}: {report}")
    truths = true_answers_for(kept, column, truth=data)  # found for every one: the filter needed them
    return ProblemSet(
        name=f"{data.name}/incorrect",
        train=tuple(replace(p, true_answer=t) for p, t in zip(kept, truths)),
        heldout=data.heldout,
        skipped=data.skipped + loaded.skipped,
    )


def one_shot(data: ProblemSet, *, source: Any = None, row_id: str | int, copies: int) -> ProblemSet:
    """One-shot RL (Wang et al. 2025, "pi_1"): train on a single problem, repeated ``copies`` times so
    that a rollout batch can be filled with it. Copies are ``<id>#0``, ``<id>#1``, ... so that ids stay
    unique; the held-out problems are ``data``'s.

    The problem is ``row_id`` of ``source`` (a source spec), or of ``data``'s training problems when
    ``source`` is null. ``row_id`` is the full id or the id without its source prefix (``7395`` for
    ``deepscaler_level4/7395``); a YAML ``row_id: 7395`` arrives as an int, hence ``str | int``.
    """
    candidates, skipped = data.train, data.skipped
    if source is not None:
        candidates, skipped = tuple(load_specs(source).problems), 0
    if copies < 1:
        raise ValueError(f"copies must be >= 1, got {copies}")
    problem = find_problem(candidates, str(row_id))
    train = tuple(replace(problem, id=f"{problem.id}#{i}") for i in range(copies))
    return ProblemSet(name=f"{data.name}/one_shot:{problem.id}", train=train, heldout=data.heldout, skipped=skipped)


def test_time(data: ProblemSet) -> ProblemSet:
    """Test-time training (TTRL, Zuo et al. 2025): train on the held-out problems themselves, whose answers a
    test-time reward never reads (``reward=ttrl`` votes its own labels); they stay the held-out set, so the
    accuracy reported is on the very prompts trained on, as in TTRL."""
    if not data.heldout:
        raise DataError(f"data {data.name!r} has no held-out problems to train on at test time")
    return ProblemSet(name=f"{data.name}/test_time", train=data.heldout, heldout=data.heldout, skipped=data.skipped)
