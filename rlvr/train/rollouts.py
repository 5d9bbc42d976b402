"""One step's samples and their scores, as the loop passes them between phases, and what is logged of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from rlvr.algorithms import zero_std_group_fraction
from rlvr.data import Problem
from rlvr.rollout import Completion
from rlvr.train.batch import TokenBatch
from rlvr.train.metrics import StepMetrics


@dataclass
class Rollouts:
    """One step's samples on this rank; sample ``i`` of prompt ``p`` is row ``p * G + i``."""

    problems: list[Problem]  # per sample
    sample_indices: list[int]  # [N] i of each row
    prompt_texts: list[str]  # [N]
    prompt_tokens: list[list[int]]  # [N]
    completions: list[Completion]  # [N]
    vote_pools: list[list[str]]  # per prompt: every response sampled for it, its G first (more: rlvr.rewards.ttrl)
    vote_truncated: list[list[bool]]  # per prompt, per vote: cut at the length limit

    @property
    def responses(self) -> list[str]:
        return [c.text for c in self.completions]


@dataclass
class Scores:
    rewards: torch.Tensor  # [N] float: the training reward
    correct: torch.Tensor  # [N] bool: graded against the true answers, whatever the reward
    label_correct: torch.Tensor  # [N] bool: graded against the answers trained on (labels, under majority vote)
    is_code: torch.Tensor  # [N] bool: the paper's code-reasoning rule
    grader_timeouts: int


def add_rollout_metrics(
    metrics: StepMetrics, rollouts: Rollouts, scores: Scores, advantages: torch.Tensor, batch: TokenBatch, group_size: int
) -> None:
    """``train/*`` (rewards, accuracy, code rate, lengths, ...) and the step's token count."""
    n = len(rollouts.completions)
    groups = n // group_size
    lengths = batch.response_mask.sum(-1)  # [N]
    truncated = sum(c.finish_reason == "length" for c in rollouts.completions)
    metrics.add_ratio("train/reward_mean", scores.rewards.sum(), n)
    metrics.add_ratio("train/accuracy", scores.correct.sum(), n)
    metrics.add_ratio("train/label_accuracy", scores.label_correct.sum(), n)
    # How often the training reward says what the truth says: 1 for ground truth, ~0.5 for random rewards.
    metrics.add_ratio("train/reward_truth_agreement", ((scores.rewards > 0.5) == scores.correct).sum(), n)
    metrics.add_ratio("train/code_rate", scores.is_code.sum(), n)
    metrics.add_ratio("train/frac_zero_std_groups", zero_std_group_fraction(scores.rewards, group_size) * groups, groups)
    metrics.add_ratio("train/response_len_mean", lengths.sum(), n)
    metrics.add_max("train/response_len_max", lengths.max())
    metrics.add_ratio("train/truncated_frac", truncated, n)
    metrics.add_ratio("train/advantage_abs_mean", advantages.abs().sum(), n)
    metrics.add_sum("train/grader_timeouts", scores.grader_timeouts)
    metrics.add_sum("perf/tokens", sum(map(len, rollouts.prompt_tokens)) + lengths.sum())


def rollout_rows(step: int, rollouts: Rollouts, scores: Scores, advantages: torch.Tensor) -> list[dict[str, Any]]:
    """One row per sample (``rlvr.train.rundir.ROLLOUT_COLUMNS``)."""
    return [
        {
            "step": step,
            "prompt_id": problem.id,
            "sample": sample,
            "prompt": prompt,
            "response": completion.text,
            "answer": problem.answer,
            "reward": reward,
            "correct": correct,
            "advantage": advantage,
            "response_tokens": len(completion.token_ids),
            "finished": completion.finish_reason == "stop",
            "is_code": is_code,
            "true_answer": problem.truth,
            "label_correct": label_correct,
        }
        for problem, sample, prompt, completion, reward, correct, advantage, is_code, label_correct in zip(
            rollouts.problems,
            rollouts.sample_indices,
            rollouts.prompt_texts,
            rollouts.completions,
            scores.rewards.tolist(),
            scores.correct.tolist(),
            advantages.tolist(),
            scores.is_code.tolist(),
            scores.label_correct.tolist(),
        )
    ]
