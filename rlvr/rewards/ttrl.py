r"""TTRL's reward (Zuo et al. 2025, "TTRL: Test-Time Reinforcement Learning"): the policy's own majority
answer, voted online at every step, is the label.

For each prompt the trainer samples ``n_votes`` responses, trains on the first ``group_size`` of them
(its group: the samples are i.i.d., so the first ones are a uniform draw) and passes all of them to the
reward as the ``vote_pools`` context, one list per prompt in batch order. The reward takes the majority
answer (``rlvr.rewards.voting``) and gives 1 to each kept response whose answer is in the majority's
cluster. ``votes_from`` says which responses vote:

- ``all``: all ``n_votes`` (the TTRL paper's description and its later verl code,
  ``reward_manager/ttrl.py``);
- ``kept``: only the ``group_size`` kept (what the OpenRLHF code the spurious-rewards paper ran does:
  ``ttt_samples_maker.py`` keeps the first ``n_samples_per_prompt`` of the ``n_votes_per_prompt`` samples,
  then ``auto_verify("ttt", n_samples_per_prompt, ...)`` votes within them; the 64 only feed its metrics).

With the trainer's ``report`` context it also reports, per step, how good the labels were (the official
``test_time_train_metrics``): ``ttrl/label_hit_rate`` (prompts whose label equals the data's answer, the
truth on test-time data: official ``hit_rate``), ``ttrl/majority_share`` (the label's share of the votes:
``majority_ratio``), ``ttrl/true_answer_share`` (the truth's share of the votes: ``true_label_ratio``),
``ttrl/reward_agreement`` (kept responses whose reward equals their correctness against the data's
answer: ``rewards_hit_rate``, here over the responses trained on) and ``ttrl/unlabelled_frac`` (prompts
none of whose votes has an answer).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence, TypeVar

from rlvr.rewards.extract import answers_by_fallback, extract_answer
from rlvr.rewards.functions import REWARDS, _check_batch, context_answer_format, context_truncated
from rlvr.rewards.grader import get_grader, grade_answers
from rlvr.rewards.voting import Cluster, SameAnswer, cluster_answers, majority, vote_counts

F = TypeVar("F", bound=Callable[..., Any])
VOTES_FROM = ("all", "kept")
# report(name, total, count): the trainer logs total / count, summed over ranks, as ``reward/<name>``.
Report = Callable[[str, float, float], None]


def votes_over(param: str) -> Callable[[F], F]:
    """Mark the parameter that sets how many samples per prompt a reward votes over.

    ``Reward.votes_per_prompt`` reads the mark (``fn.votes_param``): the trainer samples that many
    responses per prompt, trains on the first ``group_size`` and passes all of them as ``vote_pools``.
    """

    def mark(fn: F) -> F:
        fn.votes_param = param  # type: ignore[attr-defined]
        return fn

    return mark


@REWARDS.register("ttrl", version=3)
@votes_over("n_votes")
def ttrl_reward(
    responses: Sequence[str],
    answers: Sequence[str],
    *,
    vote_pools: Sequence[Sequence[str]],
    n_votes: int = 64,
    votes_from: str = "all",
    timeout_s: float | None = None,
    num_workers: int | None = None,
    **context: Any,
) -> list[float]:
    r"""1.0 when the response's answer is the majority answer of its prompt's votes, else 0.0 (TTRL).

    ``responses`` are the kept groups (``group_size`` per prompt, prompt by prompt); ``vote_pools[g]`` is
    everything sampled for prompt ``g``, its group first. ``answers`` (the data's) only feed the reports.
    A prompt none of whose votes has an answer has no label: its responses all score 0. Answers are read
    in the context's ``answer_format``; ``timeout_s`` and ``num_workers`` configure the grader pool that
    decides which spellings are equal. A kept response the ``truncated`` context marks as cut at the length
    limit has no answer where it would come from a fallback (``answer_tag``: its last number), so it neither
    votes nor scores (version 1 read it); so too a vote beyond the group that the ``vote_truncated`` context
    (per prompt, per vote) marks as cut (version 2 read it).
    Follows ``qwen_eval.py: test_time_train`` (the official fork's ``verify_task ttt``) and
    ``ttt_samples_maker.py``.

    Differs from the official code: only answers vote (there, a response without an answer votes for the
    empty answer, which wins when most have none and then rewards them; when none has an answer every
    response gets the same reward either way, so the advantages are 0 alike); spellings the grader
    judges equal are one vote (there, exact strings after Qwen-Math's normalisation); ``votes_from=all``
    votes over all ``n_votes`` samples (the official fork's code: ``kept``).

    >>> ttrl_reward([r"\boxed{4}", r"\boxed{5}", "none", "none either"], ["4", "4", "7", "7"], vote_pools=
    ...             [[r"\boxed{4}", r"\boxed{5}", r"\boxed{4}", "no idea"], ["none", "none either", "?", "?"]])
    [1.0, 0.0, 0.0, 0.0]
    """
    _check_batch(responses, answers)
    if votes_from not in VOTES_FROM:
        raise ValueError(f"ttrl reward: votes_from must be one of {VOTES_FROM}, got {votes_from!r}")
    group = _group_size(responses, vote_pools)
    answer_format = context_answer_format(context)
    voters = [pool if votes_from == "all" else pool[:group] for pool in vote_pools]
    cut = context_truncated(context, responses)
    vote_cut = _vote_truncated(context, vote_pools)
    extracted = [
        [_answer(r, answer_format, truncated=cut[g * group + i] if i < group else vote_cut[g][i])
         for i, r in enumerate(pool)]
        for g, pool in enumerate(voters)
    ]  # fmt: skip
    grader = get_grader(num_workers, timeout_s)

    def same(preds: list[str], golds: list[str]) -> list[bool]:
        return grade_answers(preds, golds, grader).correct

    clusters = cluster_answers([vote_counts(votes) for votes in extracted], same)
    winners = [majority(c) for c in clusters]
    rewards = [float(w is not None and w.holds(a)) for w, votes in zip(winners, extracted) for a in votes[:group]]
    report: Report | None = context.get("report")
    if report is not None:
        truths = [answers[g * group] for g in range(len(vote_pools))]
        report_label_quality(report, clusters, winners, extracted, truths, rewards, group, same)
    return rewards


def _answer(response: str, answer_format: str, *, truncated: bool) -> str | None:
    """The response's answer; None where it was truncated and its answer would come from a fallback."""
    if truncated and answers_by_fallback(response, answer_format):
        return None
    return extract_answer(response, answer_format)


def _vote_truncated(context: dict[str, Any], vote_pools: Sequence[Sequence[str]]) -> list[list[bool]]:
    """Per prompt, per vote: whether the ``vote_truncated`` context marks it as cut (all False without one)."""
    flags = context.get("vote_truncated")
    if flags is None:
        return [[False] * len(pool) for pool in vote_pools]
    if [len(f) for f in flags] != [len(pool) for pool in vote_pools]:
        raise ValueError("ttrl reward: vote_truncated must hold one flag per vote of each prompt's vote pool")
    return [[bool(t) for t in f] for f in flags]


def _group_size(responses: Sequence[str], vote_pools: Sequence[Sequence[str]]) -> int:
    """``group_size``, checking that each pool starts with its prompt's group of responses."""
    if not vote_pools or len(responses) % len(vote_pools):
        raise ValueError(f"ttrl reward: {len(responses)} responses do not split into {len(vote_pools)} prompts' groups")
    group = len(responses) // len(vote_pools)
    for g, pool in enumerate(vote_pools):
        if list(pool[:group]) != list(responses[g * group : (g + 1) * group]):
            raise ValueError(f"ttrl reward: vote pool {g} does not start with its prompt's {group} responses")
    return group


def report_label_quality(
    report: Report,
    clusters: Sequence[Sequence[Cluster]],
    winners: Sequence[Cluster | None],
    extracted: Sequence[Sequence[str | None]],
    truths: Sequence[str],
    rewards: Sequence[float],
    group: int,
    same: SameAnswer,
) -> None:
    """The official ``test_time_train_metrics``, from the clusters: one grader call for all of them."""
    pairs = [(g, c) for g, prompt in enumerate(clusters) for c in prompt]
    verdicts = same([c.answer for _, c in pairs], [truths[g] for g, _ in pairs]) if pairs else []
    true_clusters: list[list[Cluster]] = [[] for _ in clusters]
    for (g, cluster), equal in zip(pairs, verdicts):
        if equal:
            true_clusters[g].append(cluster)
    prompts = len(clusters)
    report("ttrl/label_hit_rate", sum(w is not None and w in t for w, t in zip(winners, true_clusters)), prompts)
    report("ttrl/majority_share", sum(w.votes / len(v) for w, v in zip(winners, extracted) if w is not None), prompts)
    report("ttrl/true_answer_share", sum(sum(c.votes for c in t) / len(v) for t, v in zip(true_clusters, extracted)), prompts)
    report("ttrl/unlabelled_frac", sum(w is None for w in winners), prompts)
    correct = [any(c.holds(a) for c in t) for t, votes in zip(true_clusters, extracted) for a in votes[:group]]
    report("ttrl/reward_agreement", sum((r == 1.0) == right for r, right in zip(rewards, correct)), len(rewards))
