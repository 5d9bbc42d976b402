r"""TTRL's online majority-vote reward on hand-built groups, and against a re-implementation of the official
code's rule (``qwen_eval.py: test_time_train``: ``Counter(answers).most_common(1)`` is the label, a response
scores 1 when its answer equals it).

Responses are boxed integers (``B(3)`` = ``\boxed{3}``) or text without an answer; a pool is everything
sampled for one prompt, its group (the responses trained on) first.
"""

from __future__ import annotations

import doctest
import random
from collections import Counter

import pytest

import rlvr.rewards.ttrl as ttrl_module
from rlvr.data import Problem
from rlvr.data.problems import DataError, ProblemSet
from rlvr.data.relabel import test_time as relabel_test_time
from rlvr.rewards import build_reward
from rlvr.rewards.extract import extract_answer

NONE = "I cannot solve this."


def B(x) -> str:
    return rf"The answer is \boxed{{{x}}}."


def score(pools, group, truths=None, **params):
    """ttrl's rewards for ``pools`` (training on the first ``group`` of each), and what it reported."""
    responses = [r for pool in pools for r in pool[:group]]
    answers = [t for t in (truths or ["0"] * len(pools)) for _ in range(group)]
    reported = {}
    report = lambda name, total, count: reported.__setitem__(name, total / count)  # noqa: E731
    reward = build_reward("ttrl", n_votes=max(map(len, pools)), **params)
    return reward(responses, answers, vote_pools=pools, report=report), reported


def test_doctests():
    assert doctest.testmod(ttrl_module, raise_on_error=False).failed == 0


def test_all_equal_answers_are_all_rewarded():
    rewards, reported = score([[B(4)] * 6], group=4, truths=["4"])
    assert rewards == [1.0] * 4
    assert reported == {"ttrl/label_hit_rate": 1, "ttrl/majority_share": 1, "ttrl/true_answer_share": 1,
                        "ttrl/unlabelled_frac": 0, "ttrl/reward_agreement": 1}  # fmt: skip


def test_a_tie_goes_to_the_answer_seen_first_as_in_counter_most_common():
    pool = [B(5), B(3), B(3), B(5), NONE, NONE]  # 2 votes each; 5 came first
    assert Counter(["5", "3", "3", "5", "", ""]).most_common(1) == [("5", 2)]  # the official rule; "" also has 2
    rewards, _ = score([pool], group=4)
    assert rewards == [1.0, 0.0, 0.0, 1.0]
    rewards, _ = score([[B(3)] + pool[1:4] + [B(5), B(3)]], group=4)  # now 3 has 3 votes
    assert rewards == [1.0, 1.0, 1.0, 0.0]


def test_no_response_with_an_answer_means_no_label_and_no_reward():
    # The official code votes "" (no answer) like an answer: "" wins and every response scores 1. Either way
    # the group's rewards are all equal, so its advantages are all 0: nothing is learnt from it.
    rewards, reported = score([[NONE, "42 is nice", NONE, NONE]], group=4, truths=["42"])
    assert rewards == [0.0] * 4
    assert reported["ttrl/unlabelled_frac"] == 1 and reported["ttrl/label_hit_rate"] == 0
    assert reported["ttrl/majority_share"] == 0 and reported["ttrl/true_answer_share"] == 0
    assert reported["ttrl/reward_agreement"] == 1  # none correct, none rewarded


def test_a_few_answers_among_many_without_one_still_make_the_label():
    # Only answers vote: 7 is the label with 2 of 6 votes, although 4 responses have none. (The official code
    # would label "" here and reward the 4 answerless responses: the one documented difference in outcome.)
    rewards, reported = score([[NONE, B(7), NONE, B(7), NONE, NONE]], group=4, truths=["7"])
    assert rewards == [0.0, 1.0, 0.0, 1.0]
    assert reported["ttrl/majority_share"] == pytest.approx(2 / 6)
    assert reported["ttrl/label_hit_rate"] == 1 and reported["ttrl/reward_agreement"] == 1


def test_spellings_the_grader_judges_equal_are_one_answer():
    # 7 is the most common string (3), but 1/2 in two spellings has 4 votes; each spelling is rewarded.
    pool = [B(7), B(r"\frac{1}{2}"), B(0.5), B(7), B(7), B(r"\frac{1}{2}"), B(0.5)]
    rewards, reported = score([pool], group=7, truths=["1/2"])
    assert rewards == [0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0]
    assert reported["ttrl/majority_share"] == pytest.approx(4 / 7) == reported["ttrl/true_answer_share"]
    assert reported["ttrl/label_hit_rate"] == 1


def test_votes_from_all_or_only_the_kept_group():
    pool = [B(1), B(1), B(2), B(2), B(2)]  # the group (2) says 1; all five say 2
    assert score([pool], group=2, votes_from="all")[0] == [0.0, 0.0]
    assert score([pool], group=2, votes_from="kept")[0] == [1.0, 1.0]
    # the default is all: the TTRL paper's rule
    assert build_reward("ttrl").params == {} and ttrl_module.ttrl_reward.__kwdefaults__["votes_from"] == "all"


def test_label_quality_reports_by_hand():
    # Two prompts, group 2 of 4 votes each.
    #   p0, truth 3: votes 3, 3, 8, 3 -> label 3 (hit), majority 3/4, truth 3/4; kept [3, 3] rewarded, correct.
    #   p1, truth 5: votes 6, 5, 6, none -> label 6 (miss), majority 2/4, truth 1/4; kept [6, 5] get [1, 0]
    #                against correctness [0, 1]: both disagree.
    pools = [[B(3), B(3), B(8), B(3)], [B(6), B(5), B(6), NONE]]
    rewards, reported = score(pools, group=2, truths=["3", "5"])
    assert rewards == [1.0, 1.0, 1.0, 0.0]
    assert reported == pytest.approx({
        "ttrl/label_hit_rate": 1 / 2,
        "ttrl/majority_share": (3 / 4 + 2 / 4) / 2,
        "ttrl/true_answer_share": (3 / 4 + 1 / 4) / 2,
        "ttrl/unlabelled_frac": 0,
        "ttrl/reward_agreement": 2 / 4,
    })  # fmt: skip


def official_test_time_train(solutions: list[str], answer_format: str = "boxed") -> list[float]:
    """The official rule, re-implemented from ``qwen_eval.py``: a missing answer is the answer "" (its
    extractor returns "" then), the label is ``Counter.most_common(1)``, and a response scores 1 when its answer
    equals the label (distinct integers here, so string equality is the grader's verdict)."""
    answers = [extract_answer(s, answer_format) or "" for s in solutions]
    label, _ = Counter(answers).most_common(1)[0]
    return [float(a == label) for a in answers]


@pytest.mark.parametrize("votes_from", ["all", "kept"])
def test_agrees_with_the_official_rule_on_random_pools(votes_from):
    rng = random.Random(0)
    group, n_votes = 4, 8
    pools = [[rng.choice([B(1), B(2), B(3), B(3), NONE]) for _ in range(n_votes)] for _ in range(60)]
    rewards, _ = score(pools, group=group, votes_from=votes_from)
    compared = 0
    for g, pool in enumerate(pools):
        voters = pool if votes_from == "all" else pool[:group]
        official = official_test_time_train(voters)[:group]
        ours = rewards[g * group : (g + 1) * group]
        if Counter(extract_answer(r, "boxed") or "" for r in voters).most_common(1)[0][0] == "":
            # "" wins the official vote: it rewards the answerless responses, we reward the most common answer
            assert all(o == (extract_answer(r, "boxed") is None) for o, r in zip(official, pool[:group]))
            continue
        assert ours == official, (g, pool)
        compared += 1
    assert compared > 40  # most pools are compared, not skipped


def test_pools_must_start_with_their_group():
    reward = build_reward("ttrl", n_votes=4)
    with pytest.raises(ValueError, match="vote pool 1 does not start with its prompt's 2 responses"):
        reward([B(1), B(1), B(2), B(2)], ["1"] * 4, vote_pools=[[B(1), B(1), B(3), B(3)], [B(2), B(9), B(2), B(2)]])
    with pytest.raises(ValueError, match="3 responses do not split into 2 prompts' groups"):
        reward([B(1)] * 3, ["1"] * 3, vote_pools=[[B(1)] * 4, [B(1)] * 4])
    with pytest.raises(ValueError, match="votes_from must be one of"):
        build_reward("ttrl", votes_from="some")([B(1)], ["1"], vote_pools=[[B(1)]])


def test_votes_per_prompt_and_the_run_config_check():
    from conftest import compose_run
    from rlvr.build import build_reward as build_run_reward

    cfg = compose_run("reward=ttrl", "reward.n_votes=8", "algorithm.group_size=4")
    assert build_run_reward(cfg).votes_per_prompt() == 8
    cfg = compose_run("reward=ttrl", "reward.n_votes=2", "algorithm.group_size=4")
    with pytest.raises(ValueError, match="votes over 2 samples per prompt .* n_votes must be at least group_size"):
        build_run_reward(cfg)
    assert build_run_reward(compose_run("reward=ground_truth")).votes_per_prompt() is None


def test_test_time_training_trains_on_the_held_out_problems():
    train, heldout = (Problem("a", "1+1", "2"),), (Problem("b", "2+2", "4"), Problem("c", "3+3", "6"))
    data = relabel_test_time(ProblemSet(name="adds", train=train, heldout=heldout, skipped=1))
    assert data.train == data.heldout == heldout and data.name == "adds/test_time" and data.skipped == 1
    with pytest.raises(DataError, match="'adds' has no held-out problems"):
        relabel_test_time(ProblemSet(name="adds", train=train, heldout=(), skipped=0))


def test_a_truncated_kept_response_neither_votes_nor_scores_by_its_last_number():
    # answer_tag reads a bare answer by its last number; cut at the length limit, "x = 4. But" has no answer.
    pool = ["<answer>x = 4. But", "<answer>x = 4.", "<answer>the answer is 7", "<answer>7"]
    reward = build_reward("ttrl", n_votes=4)
    uncut = reward(pool[:2], ["4", "4"], vote_pools=[pool], answer_format="answer_tag")
    assert uncut == [1.0, 1.0]  # 4 and 7 tie at 2 votes; 4 came first
    cut = reward(pool[:2], ["4", "4"], vote_pools=[pool], answer_format="answer_tag", truncated=[True, False])
    assert cut == [0.0, 0.0]  # 4 has 1 vote left, 7 wins



def test_a_truncated_vote_beyond_the_group_does_not_vote_by_its_last_number():
    # Group of 2, two more votes; the extra "x = 7. But" votes 7 by its last number unless it was cut.
    pool = ["<answer>4", "<answer>7", "<answer>x = 7. But", "<answer>4"]
    reward = build_reward("ttrl", n_votes=4)
    uncut = reward(pool[:2], ["4", "4"], vote_pools=[pool], answer_format="answer_tag")
    assert uncut == [1.0, 0.0]  # 4 and 7 tie at 2 votes; 4 came first
    flags = [[False, False, False, False]]
    assert reward(pool[:2], ["4", "4"], vote_pools=[pool], answer_format="answer_tag", vote_truncated=flags) == uncut
    pool_2 = ["<answer>7", "<answer>4", "<answer>x = 7. But", "<answer>4"]  # 7 first: it wins a tie
    assert reward(pool_2[:2], ["4", "4"], vote_pools=[pool_2], answer_format="answer_tag") == [1.0, 0.0]
    cut = [[False, False, True, False]]
    assert reward(pool_2[:2], ["4", "4"], vote_pools=[pool_2], answer_format="answer_tag", vote_truncated=cut) == [0.0, 1.0]
    with pytest.raises(ValueError, match="one flag per vote"):
        reward(pool[:2], ["4", "4"], vote_pools=[pool], answer_format="answer_tag", vote_truncated=[[False]])
