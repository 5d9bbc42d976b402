"""Group-relative advantages (GRPO, Dr. GRPO).

Each prompt is sampled ``group_size`` times; a sample's advantage is its reward relative to the other
samples of the same prompt. Rewards arrive flat, ``[N] = [num_prompts * group_size]``, with a prompt's
samples contiguous.

Frameworks disagree on the "same" GRPO advantage (see STYLE.md), so ``ddof`` and ``eps`` are explicit:
verl uses ddof=1, eps=1e-6; TRL ddof=1, eps=1e-4; open-instruct ddof=0, eps=1e-8; the paper's code
ddof=1, eps=1e-9. Dr. GRPO (Liu et al., 2025) drops the std division altogether.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from rlvr.registry import Registry

ADVANTAGE_ESTIMATORS: Registry[Callable[..., Tensor]] = Registry("advantage estimator")


def _as_groups(rewards: Tensor, group_size: int) -> Tensor:
    """[N] -> [N / group_size, group_size] float, checking that the groups tile N exactly."""
    if rewards.dim() != 1:
        raise ValueError(f"rewards must be 1-D [N], got shape {tuple(rewards.shape)}")
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    num_rewards = rewards.numel()
    if num_rewards % group_size != 0:
        raise ValueError(f"{num_rewards} rewards cannot be split into groups of {group_size}")
    if not rewards.is_floating_point():  # int / bool rewards from a grader
        rewards = rewards.to(torch.get_default_dtype())
    return rewards.reshape(-1, group_size)  # [G, K]


def _all_equal(grouped: Tensor) -> Tensor:
    """[G, K] -> [G, 1] bool: True where every reward in the group is the same."""
    return (grouped == grouped[:, :1]).all(dim=1, keepdim=True)  # [G, 1]


def group_advantages(
    rewards: Tensor,
    group_size: int,
    *,
    std_normalize: bool = True,
    ddof: int = 1,
    eps: float = 1e-6,
) -> Tensor:
    """Advantage of each sample relative to its prompt's group.

    Args:
        rewards: [N] rewards, N = num_prompts * group_size, a prompt's samples contiguous.
        group_size: samples per prompt (K).
        std_normalize: divide by the group std (GRPO); False gives Dr. GRPO's ``r - mean``.
        ddof: delta degrees of freedom of the std (1 = unbiased, 0 = population).
        eps: added to the std (not the variance) before dividing.

    Returns:
        [N] float advantages ``(r - mean) / (std + eps)``, or ``r - mean`` without std_normalize.
        A group whose rewards are all equal (including any group of one) gets exactly 0: it carries
        no learning signal, and this keeps float round-off in the mean from being amplified by 1/eps.
    """
    grouped = _as_groups(rewards, group_size)  # [G, K]
    centred = grouped - grouped.mean(dim=1, keepdim=True)  # [G, K]
    if std_normalize:
        # Computed by hand rather than with Tensor.std so that K - ddof <= 0 (a group of one) does not
        # produce NaN and a warning; such groups are all-equal and are zeroed below anyway.
        variance = centred.pow(2).sum(dim=1, keepdim=True) / max(group_size - ddof, 1)  # [G, 1]
        centred = centred / (variance.sqrt() + eps)  # [G, K]
    advantages = torch.where(_all_equal(grouped), torch.zeros_like(centred), centred)  # [G, K]
    return advantages.reshape(-1)  # [N]


def zero_std_group_fraction(rewards: Tensor, group_size: int) -> float:
    """Share of groups whose rewards are all equal (they give zero advantage, hence no gradient).

    Args:
        rewards: [N] rewards, a prompt's ``group_size`` samples contiguous.
    """
    return _all_equal(_as_groups(rewards, group_size)).float().mean().item()


@ADVANTAGE_ESTIMATORS.register("grpo")
def grpo_advantages(rewards: Tensor, group_size: int, **kwargs: Any) -> Tensor:
    """GRPO: (r - group mean) / (group std + eps). kwargs: ddof, eps."""
    return group_advantages(rewards, group_size, std_normalize=True, **kwargs)


@ADVANTAGE_ESTIMATORS.register("dr_grpo")
def dr_grpo_advantages(rewards: Tensor, group_size: int, **kwargs: Any) -> Tensor:
    """Dr. GRPO: r - group mean, no std division (ddof and eps are accepted and unused)."""
    return group_advantages(rewards, group_size, std_normalize=False, **kwargs)


def whiten_advantages(
    advantages: Tensor, token_counts: Tensor, sum_over_ranks: Callable[[Tensor], Tensor] = lambda t: t
) -> Tensor:
    """Whiten per-sequence advantages over every response token of the rollout, on all ranks: the paper's
    official code (OpenRLHF's replay buffer ``normalize("advantages")``) does this after the group
    normalisation. Each token of sequence i carries A_i, so with T_i tokens:

        mean = sum_i A_i T_i / sum_i T_i,  var = sum_i T_i (A_i - mean)^2 / sum_i T_i,
        A_i -> (A_i - mean) / sqrt(max(var, 1e-8))

    (the official ``rsqrt(clamp(var, min=1e-8))``). Longer responses weigh more in the mean, and the
    zero advantages of all-equal groups become -mean / std: under random rewards this is part of what
    moves the policy.

    Args:
        advantages: [N] one advantage per sequence on this rank.
        token_counts: [N] its response tokens.
        sum_over_ranks: all-reduce (sum) of a 1-D tensor over the ranks (identity for one process).

    >>> whiten_advantages(torch.tensor([1.0, -1.0]), torch.tensor([3.0, 1.0]))  # mean 0.5, var 0.75
    tensor([ 0.5774, -1.7321])
    """
    weights = token_counts.to(advantages.dtype)
    sums = sum_over_ranks(torch.stack([(advantages * weights).sum(), weights.sum()]))
    mean = sums[0] / sums[1].clamp(min=1)
    squared = sum_over_ranks(((advantages - mean).pow(2) * weights).sum().reshape(1))[0]
    return (advantages - mean) * (squared / sums[1].clamp(min=1)).clamp(min=1e-8).rsqrt()
