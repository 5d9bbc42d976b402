r"""Majority voting over a model's own answers: the offline labels of ``reward=majority_vote`` and the
online ones of ``reward=ttrl``.

A prompt's votes are its samples' extracted answers (None: no answer, which is no vote). Spellings are
stripped and counted; spellings that the grader judges equal (``\frac12`` and ``0.5``) are then merged
into one cluster, visited most common first, each joining the first cluster whose representative it
equals. The majority is the cluster with the most votes; ties go to the cluster formed first, i.e. the
one whose best spelling was more common, or seen first. With no equal spellings this is exactly
``collections.Counter(answers).most_common(1)``, the official code's label.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

# ``same(preds, golds) -> [bool]``: many answer pairs judged at once (the grader pool).
SameAnswer = Callable[[list[str], list[str]], list[bool]]


@dataclass(frozen=True)
class Cluster:
    """Answers judged equal: the most common spelling, the votes for all of them, and the spellings."""

    answer: str
    votes: int
    spellings: frozenset[str]

    def holds(self, answer: str | None) -> bool:
        """Whether ``answer`` (as extracted; None: no answer) is one of this cluster's spellings."""
        return answer is not None and answer.strip() in self.spellings


def vote_counts(answers: Sequence[str | None]) -> list[tuple[str, int]]:
    """Distinct non-empty answers with their counts, most common first (ties: first seen first).

    >>> vote_counts(["12", None, "12", "0.5", "", "12"])
    [('12', 3), ('0.5', 1)]
    """
    counts = Counter(a.strip() for a in answers if a is not None and a.strip())
    return counts.most_common()  # Counter keeps first-seen order among equal counts


def cluster_answers(problems_votes: Sequence[Sequence[tuple[str, int]]], same: SameAnswer) -> list[list[Cluster]]:
    """Each problem's distinct answers (``vote_counts``) merged into clusters of equal answers.

    Answers are visited most common first; each joins the first cluster whose representative (its most
    common spelling) it equals, else starts one. All problems advance together, so the grader sees one
    batch per round instead of one call per answer.

    >>> same = lambda p, g: [float(eval(a)) == float(eval(b)) for a, b in zip(p, g)]
    >>> [(c.answer, c.votes, sorted(c.spellings)) for c in cluster_answers([[("1/2", 3), ("0.5", 2), ("7", 1)]], same)[0]]
    [('1/2', 5, ['0.5', '1/2']), ('7', 1, ['7'])]
    """
    clusters: list[list[list]] = [[] for _ in problems_votes]  # per problem: [representative, votes, spellings]
    for rank in range(max((len(v) for v in problems_votes), default=0)):
        pairs = []  # (problem, answer, votes, cluster index)
        for p, votes in enumerate(problems_votes):
            if rank < len(votes):
                answer, count = votes[rank]
                pairs.extend((p, answer, count, c) for c in range(len(clusters[p])))
                if not clusters[p]:
                    clusters[p].append([answer, count, {answer}])
        verdicts = same([a for _, a, _, _ in pairs], [clusters[p][c][0] for p, _, _, c in pairs]) if pairs else []
        joined: set[int] = set()
        for (p, answer, count, c), equal in zip(pairs, verdicts):
            if equal and p not in joined:
                clusters[p][c][1] += count
                clusters[p][c][2].add(answer)
                joined.add(p)
        for p, votes in enumerate(problems_votes):
            if 0 < rank < len(votes) and p not in joined:
                answer, count = votes[rank]
                clusters[p].append([answer, count, {answer}])
    return [[Cluster(rep, count, frozenset(spellings)) for rep, count, spellings in c] for c in clusters]


def majority(clusters: Sequence[Cluster]) -> Cluster | None:
    """The cluster with the most votes, ties to the first; None when there are none.

    >>> majority([Cluster("3", 2, frozenset({"3"})), Cluster("5", 2, frozenset({"5"}))]).answer, majority([])
    ('3', None)
    """
    return max(clusters, key=lambda c: c.votes) if clusters else None  # max keeps the first of equal keys
