r"""The paper's "incorrect label" data: problems labelled with a model's wrong majority answer.

Shao et al. train on DeepScaleR problems whose label is the model's majority-vote answer over 64
samples, kept only where that answer is *wrong*, and reward agreement with it. The paper's code
judged "wrong" with TTRL's ``qwen.math_grade.grade_answer``; here it is math-verify
(``grade_answers``), the grader behind our ground-truth reward, so that a label counted wrong here
is also one the ground-truth reward would score 0. The two differ on a few labels that are equal in
value but not in form (``4:3`` vs ``4/3``, an unreduced fraction): the paper kept those as
"incorrect", math-verify calls them right and drops them (tests/data/test_labels.py lists them).

A labelled problem's true answer comes from the label file's own ``true_answer`` column (what
``rlvr.label`` writes), or else from the truth data set, joined on the problem text. The
``incorrect`` reward's data is ``rlvr.data.relabel.incorrect``: its truth is the data set it relabels.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from rlvr.data.loaders import id_matches, load_specs, source_specs
from rlvr.data.problems import DataError, Problem, ProblemSet
from rlvr.data.rows import MissingColumnError
from rlvr.rewards.grader import GraderPool, grade_answers


@dataclass(frozen=True)
class LabelReport:
    """What the incorrect-label filter did with ``labelled`` problems."""

    labelled: int
    kept: int  # label judged wrong: trained on
    right: int  # label judged right: dropped
    timed_out: int  # not judged within the grader's deadline: dropped, as it may well be right

    def __str__(self) -> str:
        return (f"{self.labelled} labelled problems: {self.kept} wrong labels kept, {self.right} right labels dropped, "
                f"{self.timed_out} dropped as the grader timed out")


def normalize_text(text: str) -> str:
    """Problem text for joining a label file to its source: whitespace runs are one space.

    >>> normalize_text("Find  $x$.\\n")
    'Find $x$.'
    """
    return " ".join(text.split())


class TruthIndex:
    """True answers looked up by problem text.

    DeepScaleR repeats some problems with different answers (the same text in two levels, one with
    a typo'd answer). A text that maps to more than one answer is settled by the labelled problem's
    id: label files keep the id of the row they were made from, so the truth row with that id (bare
    or with its file prefix) is the one.
    """

    def __init__(self, problems: Sequence[Problem]):
        self._by_text: dict[str, list[Problem]] = defaultdict(list)
        for problem in problems:
            self._by_text[normalize_text(problem.problem)].append(problem)

    def answer(self, labelled: Problem) -> str | None:
        """The true answer of ``labelled``; None when no truth problem has its text. Raises DataError
        when its text has several answers and its id does not pick one."""
        candidates = self._by_text.get(normalize_text(labelled.problem), [])
        if not candidates:
            return None
        answer = _single_answer(candidates)
        if answer is not None:
            return answer
        answer = _single_answer([p for p in candidates if id_matches(p.id, labelled.id)])
        if answer is not None:
            return answer
        listed = ", ".join(f"{p.id} ({p.answer!r})" for p in candidates)
        raise DataError(
            f"labelled problem {labelled.id!r} has the text of truth problems with different answers ({listed}) "
            "and its id picks none of them; give its true answer in the label file's true_answer column"
        )


def _single_answer(problems: Sequence[Problem]) -> str | None:
    r"""The answer all ``problems`` share, spaces aside (``1 + 3\sqrt{2}`` is ``1+3\sqrt{2}``), else None."""
    answers = {"".join(p.answer.split()) for p in problems}
    return problems[0].answer if len(answers) == 1 else None


def true_answers_for(
    labelled: Sequence[Problem],
    true_answers: Mapping[str, str] | None = None,
    truth: ProblemSet | Sequence[Problem] | None = None,
    *,
    required: bool = True,
) -> list[str | None]:
    """Each labelled problem's true answer: ``true_answers[id]``, else its text looked up in ``truth``.
    Without one, an error (``required``) or None."""
    true_answers = true_answers or {}
    truth_problems = (truth.train + truth.heldout) if isinstance(truth, ProblemSet) else (truth or ())
    index = TruthIndex(truth_problems)
    answers = []
    for problem in labelled:
        answer = true_answers.get(problem.id)
        if answer is None:
            try:
                answer = index.answer(problem)
            except DataError:  # the text has several answers and the id picks none
                if required:
                    raise
        if answer is None and required:
            looked = [place for place, given in (("true_answers", true_answers), ("truth", truth_problems)) if given]
            raise DataError(
                f"no true answer for labelled problem {problem.id!r} ({problem.problem[:80]!r}): "
                f"looked in {' and '.join(looked) or 'nothing (give true_answers or truth)'}"
            )
        answers.append(answer)
    return answers


def incorrect_labels(
    labelled: Sequence[Problem],
    true_answers: Mapping[str, str] | None = None,
    *,
    truth: ProblemSet | Sequence[Problem] | None = None,
    pool: GraderPool | None = None,
) -> tuple[list[Problem], LabelReport]:
    """Keep the labelled problems whose label (``answer``) math-verify judges wrong against the true answer.

    Args:
        labelled: problems whose ``answer`` is a model's majority-vote label (never empty: the loader
            refuses or skips rows without one).
        true_answers: id -> true answer, e.g. from the label file's ``true_answer`` column.
        truth: problems with true answers, joined on problem text where ``true_answers`` has no entry.
        pool: the grader pool (default: the process-wide one).

    Returns the kept problems, still carrying their wrong labels, and a ``LabelReport``.
    """
    labelled = list(labelled)
    if not labelled:
        return [], LabelReport(0, 0, 0, 0)
    truths = true_answers_for(labelled, true_answers, truth)
    graded = grade_answers([p.answer for p in labelled], truths, pool=pool)
    wrong = [not correct and not timed_out for correct, timed_out in zip(graded.correct, graded.timed_out)]
    kept = [problem for problem, keep in zip(labelled, wrong) if keep]
    report = LabelReport(
        labelled=len(labelled),
        kept=len(kept),
        right=sum(graded.correct),
        timed_out=sum(graded.timed_out),
    )
    return kept, report


def true_answer_column(labels: Any, field: str) -> dict[str, str] | None:
    """id -> the label file's ``field`` column, or None when the file has no such column."""
    specs = []
    for spec in source_specs(labels):
        fields = {k: v for k, v in (spec.get("fields") or {}).items() if k != "solution"}
        specs.append({**spec, "fields": {**fields, "answer": field}})
    try:
        # "skip": a row without a true answer is left to the truth data set (or reported there by id)
        loaded = load_specs(specs, on_bad_row="skip")
    except MissingColumnError:
        return None
    return {p.id: p.answer for p in loaded.problems}
