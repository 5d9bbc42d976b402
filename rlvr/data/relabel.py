"""What ``reward=majority_vote``, ``incorrect`` and ``one_shot`` train on, derived from the data's problems.

Each is the ``relabel`` node of its reward file (``_partial_: true``): a function of the data config's
``ProblemSet`` that returns the problems to train on. Held-out problems always keep their true
answers, so held-out accuracy means the same thing under every reward.
"""

from __future__ import annotations

import logging
from typing import Any

from rlvr.data.labels import true_answer_column, incorrect_labels
from rlvr.data.loaders import load_specs, one_shot as _one_shot
from rlvr.data.problems import ProblemSet

log = logging.getLogger(__name__)


def majority_vote(data: ProblemSet, *, labels: Any, on_bad_row: str = "error") -> ProblemSet:
    """Train on a majority-vote label file (``answer`` = the model's most common answer)."""
    loaded = load_specs(labels, on_bad_row=on_bad_row)
    return ProblemSet(
        name=f"{data.name}/majority_vote",
        train=tuple(loaded.problems),
        heldout=data.heldout,
        skipped=data.skipped + loaded.skipped,
    )


def incorrect(data: ProblemSet, *, labels: Any, on_bad_row: str = "error") -> ProblemSet:
    """Train on the wrong labels of a majority-vote file only (the paper's "incorrect label" reward).

    The true answer of a labelled problem is the file's ``true_answer`` column (our labeller writes
    one), else the answer of the same problem text in ``data`` (the paper's label files have none).
    """
    loaded = load_specs(labels, on_bad_row=on_bad_row)
    kept, report = incorrect_labels(loaded.problems, true_answer_column(labels, "true_answer"), truth=data)
    log.info("incorrect labels: %s", report)
    if not kept:
        raise ValueError(f"no wrong labels in {labels}: {report}; nothing to train on")
    return ProblemSet(
        name=f"{data.name}/incorrect",
        train=tuple(kept),
        heldout=data.heldout,
        skipped=data.skipped + loaded.skipped,
    )


def one_shot(data: ProblemSet, *, source: Any = None, row_id: str | int, copies: int) -> ProblemSet:
    """One-shot RL: the problem ``row_id`` of ``source`` (null: of ``data``'s training problems), repeated."""
    base = data
    if source is not None:
        base = ProblemSet(name=data.name, train=tuple(load_specs(source).problems), heldout=data.heldout)
    return _one_shot(base, row_id=row_id, copies=copies)
