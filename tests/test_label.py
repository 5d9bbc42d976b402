"""Majority voting: answers that math-verify judges equal are one vote; the label is the biggest group."""

from __future__ import annotations

import doctest

from conftest import CharTokenizer, ScriptedEngine
from rlvr.config import LabelConfig
from rlvr.data import Problem
from rlvr.data.majority_vote import label_problems
from rlvr.rewards import voting as voting_module
from rlvr.rewards.voting import cluster_answers, majority, vote_counts
from rlvr.data.prompts import Prompt


def test_vote_counts_ignores_missing_answers():
    assert vote_counts(["4", None, " 4", "", "5"]) == [("4", 2), ("5", 1)]


def test_equivalent_spellings_pool_their_votes_and_beat_a_plurality():
    # "1/2" (2) and "0.5" (2) are the same answer: 4 votes, beating "7" (3) which a string count picks.
    votes = [[("7", 3), ("1/2", 2), ("0.5", 2)]]
    same = lambda preds, golds: [float(eval(p)) == float(eval(g)) for p, g in zip(preds, golds)]  # noqa: E731
    groups = cluster_answers(votes, same)
    assert [[(c.answer, c.votes) for c in g] for g in groups] == [[("7", 3), ("1/2", 4)]]
    assert (majority(groups[0]).answer, majority(groups[0]).votes) == ("1/2", 4)


def test_label_problems_with_math_verify_equivalence():
    problems = [Problem("a", "p1", "0.5"), Problem("b", "p2", "3"), Problem("c", "p3", "9"), Problem("a", "p1", "0.5")]
    responses = {
        "p1=": [r"\boxed{\frac{1}{2}}", r"\boxed{0.5}", r"\boxed{2}", r"\boxed{0.5}"],  # 3 votes for 1/2
        "p2=": [r"\boxed{4}"] * 4,  # unanimous and wrong
        "p3=": ["no answer", r"\boxed{", "", "still none"],  # no label at all
    }
    tok = CharTokenizer()
    engine = ScriptedEngine(tok, responses)
    cfg = LabelConfig(num_samples=4, temperature=1.0, top_p=1.0, max_new_tokens=8, num_problems=None)
    rows, report = label_problems(engine, tok, problems, Prompt(style="template", template="{problem}="), cfg)
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {"a", "b"}  # the duplicate of "a" is labelled once; "c" has no answer
    assert by_id["a"]["votes"] == 3 and by_id["a"]["label_correct"] and not by_id["a"]["unanimous"]
    assert by_id["b"] == by_id["b"] | {"answer": "4", "votes": 4, "unanimous": True, "label_correct": False}
    assert report["problems"] == 3 and report["no_answer"] == 1
    assert report["label_accuracy"] == 0.5 and report["unanimous_frac"] == 0.5
    assert engine.calls[0].n == 4 and engine.calls[0].temperature == 1.0


def test_doctests():
    result = doctest.testmod(voting_module)
    assert result.attempted > 0 and result.failed == 0
