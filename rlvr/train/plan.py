"""Checking a run's numbers before anything heavy is loaded, the quantities derived from them, and the
order in which one rollout's samples are cut into mini-batches and micro-batches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from rlvr.algorithms import ADVANTAGE_ESTIMATORS, KL_ESTIMATORS, LOSS_AGGREGATIONS, POLICY_LOSSES
from rlvr.config import RunConfig


class ConfigError(ValueError):
    """A run's config cannot work; the message names the fields."""


@dataclass(frozen=True)
class StepPlan:
    world_size: int
    prompts_per_rank: int  # whole groups stay on one rank, so group advantages need no communication
    samples_per_step: int  # rollout_batch_size * group_size
    samples_per_rank: int
    mini_batch_per_rank: int
    grad_accumulation: int  # micro-batches per optimizer step on each rank
    optimizer_steps_per_rollout: int  # samples_per_step / mini_batch_size * epochs (paper: 8)

    def describe(self) -> str:
        return (
            f"{self.samples_per_step} samples per step ({self.prompts_per_rank} prompts x group on each of "
            f"{self.world_size} rank(s)); {self.optimizer_steps_per_rollout} optimizer steps per rollout; "
            f"{self.grad_accumulation} micro-batches per optimizer step per rank"
        )


def plan_step(cfg: RunConfig, world_size: int) -> StepPlan:
    """Validate the batch arithmetic and registry names of ``cfg``; raise ConfigError naming the fields."""
    alg, trainer = cfg.algorithm, cfg.trainer
    rollout, group, mini = alg.rollout_batch_size, alg.group_size, alg.mini_batch_size
    micro, epochs = trainer.micro_batch_size, alg.epochs_per_rollout
    problems = []
    if group < 2:
        problems.append(f"algorithm.group_size={group} must be >= 2: a group of one has no baseline")
    if min(rollout, mini, micro, epochs, trainer.total_steps) < 1:
        problems.append(
            "algorithm.rollout_batch_size, algorithm.mini_batch_size, algorithm.epochs_per_rollout, "
            "trainer.micro_batch_size and trainer.total_steps must all be >= 1"
        )
    elif (rollout * group) % mini:
        problems.append(
            f"algorithm.mini_batch_size={mini} must divide the rollout: rollout_batch_size x group_size = "
            f"{rollout} x {group} = {rollout * group} samples"
        )
    elif rollout % world_size or mini % world_size:
        problems.append(
            f"algorithm.rollout_batch_size={rollout} and algorithm.mini_batch_size={mini} must be divisible "
            f"by the number of processes ({world_size})"
        )
    elif (mini // world_size) % micro:
        problems.append(
            f"trainer.micro_batch_size={micro} must divide the per-process mini-batch "
            f"(mini_batch_size / processes = {mini} / {world_size} = {mini // world_size})"
        )
    steps_per_rollout = rollout * group // mini * epochs if not problems else None  # None: arithmetic refused
    wanted = cfg.clip.steps_per_rollout
    if wanted is not None and steps_per_rollout is not None and steps_per_rollout != wanted:
        # a clip file ties one batch size to the other by interpolation; an override on the command line
        # replaces that tie silently, and the run would be an 8-step run under the one-update name
        problems.append(
            f"clip={cfg.clip.name} means {wanted} optimizer step(s) per rollout (clip.steps_per_rollout), but "
            f"rollout_batch_size x group_size / mini_batch_size x epochs_per_rollout = {rollout} x {group} / "
            f"{mini} x {epochs} = {steps_per_rollout}: an override of algorithm.mini_batch_size, "
            "rollout_batch_size or epochs_per_rollout replaced the clip file's own; drop it"
        )
    for field, registry, name in (
        ("clip.mode", POLICY_LOSSES, cfg.clip.mode),
        ("algorithm.loss_aggregation", LOSS_AGGREGATIONS, alg.loss_aggregation),
        ("algorithm.advantage.estimator", ADVANTAGE_ESTIMATORS, alg.advantage.estimator),
        ("algorithm.kl.estimator", KL_ESTIMATORS, alg.kl.estimator),
    ):
        if name not in registry:
            problems.append(f"{field}={name!r} is not one of: {', '.join(registry.names())}")
    if alg.loss_aggregation == "pack-token-mean" and (alg.pack_size < 1 or micro % alg.pack_size):
        problems.append(
            f"algorithm.loss_aggregation=pack-token-mean needs trainer.micro_batch_size={micro} to be a multiple of "
            f"algorithm.pack_size={alg.pack_size}: a pack of responses must not span two micro-batches"
        )
    if cfg.clip.low < 0 or cfg.clip.high < 0:
        problems.append(f"clip.low={cfg.clip.low} and clip.high={cfg.clip.high} must be >= 0")
    if alg.kl.coef < 0 or alg.entropy_coef < 0:
        problems.append(
            f"algorithm.kl.coef={alg.kl.coef} and algorithm.entropy_coef={alg.entropy_coef} must be >= 0 "
            "(a bonus is a positive coefficient)"
        )
    if trainer.single_process_zero_stage not in (None, 1, 2, 3):
        problems.append(
            f"trainer.single_process_zero_stage={trainer.single_process_zero_stage} must be null, 1, 2 or 3"
        )
    if trainer.zero_stage not in (1, 2, 3):
        problems.append(
            f"trainer.zero_stage={trainer.zero_stage} must be 1, 2 or 3: ZeRO's gradient-norm check is what skips "
            "an optimizer step whose gradient is not finite (rlvr.train.nonfinite)"
        )
    if trainer.max_consecutive_nonfinite < 1:
        problems.append(f"trainer.max_consecutive_nonfinite={trainer.max_consecutive_nonfinite} must be >= 1")
    if problems:
        raise ConfigError("invalid run config:\n  - " + "\n  - ".join(problems))
    return StepPlan(
        world_size=world_size,
        prompts_per_rank=rollout // world_size,
        samples_per_step=rollout * group,
        samples_per_rank=rollout * group // world_size,
        mini_batch_per_rank=mini // world_size,
        grad_accumulation=mini // (micro * world_size),
        optimizer_steps_per_rollout=steps_per_rollout,
    )


def microbatch_loss_weight(aggregation: str, micro_tokens: float, mini_tokens: float, micro_batches: int) -> float:
    """Factor that makes DeepSpeed's mean over micro-batches equal the mini-batch loss.

    DeepSpeed averages gradients over the ``micro_batches`` (accumulation steps x ranks) of an optimizer
    step. That is exact for per-sequence aggregations with equal-sized micro-batches; for ``token-mean``
    each micro-batch must instead count in proportion to its share of the mini-batch's tokens.
    """
    if aggregation != "token-mean" or mini_tokens == 0:
        return 1.0
    return micro_tokens * micro_batches / mini_tokens


@dataclass(frozen=True)
class MicroBatch:
    indices: torch.Tensor  # [m] rows of the rollout batch on this rank (on the CPU)
    weight: float  # factor on its loss (microbatch_loss_weight)


def update_schedule(
    orders: list[torch.Tensor],
    response_mask: torch.Tensor,
    plan: StepPlan,
    micro_batch_size: int,
    aggregation: str,
    sum_over_ranks: Callable[[torch.Tensor], torch.Tensor],
    collective_device: torch.device | None = None,
) -> list[list[MicroBatch]]:
    """This rank's micro-batches, grouped by optimizer step, for one rollout.

    ``orders`` is one permutation of the rank's samples per epoch; each is cut into mini-batches of
    ``plan.mini_batch_per_rank`` samples (one optimizer step each) and those, sorted longest first, into
    micro-batches, so that a micro-batch holds samples of similar length and little padding is computed
    (which samples share a micro-batch does not change a mini-batch's loss, except under
    ``pack-token-mean``, whose packs keep the order). For
    ``token-mean`` a micro-batch's weight needs its mini-batch's token count over all ranks: the counts of
    every mini-batch are summed in one collective (``sum_over_ranks``), not one per mini-batch, and the
    weights are worked out on the host once per step, so the update never waits for the device to say one.
    """
    mini = plan.mini_batch_per_rank
    minibatches = [order[start : start + mini] for order in orders for start in range(0, len(order), mini)]
    tokens = response_mask.sum(-1).cpu()  # [N] response tokens per sample
    mini_tokens = torch.stack([tokens[idx].sum() for idx in minibatches])  # [number of mini-batches]
    if aggregation == "token-mean":  # the only aggregation whose weights depend on the tokens
        mini_tokens = sum_over_ranks(mini_tokens.to(collective_device or response_mask.device)).cpu()
    micro_batches = plan.grad_accumulation * plan.world_size  # DeepSpeed averages over these
    schedule = []
    for idx, total in zip(minibatches, mini_tokens.tolist()):
        if aggregation != "pack-token-mean":  # packs are runs of the order; anywhere else, bucket by length
            idx = idx[torch.argsort(tokens[idx], descending=True, stable=True)]  # micro-batches of like lengths
        parts = [idx[start : start + micro_batch_size] for start in range(0, len(idx), micro_batch_size)]
        weights = [microbatch_loss_weight(aggregation, tokens[part].sum().item(), total, micro_batches) for part in parts]
        schedule.append([MicroBatch(part, weight) for part, weight in zip(parts, weights)])
    return schedule


def rows_needing_old_logprobs(schedule: list[list[MicroBatch]]) -> torch.Tensor:
    """The rows whose log-probs under the sampling policy ("old") must be computed before the first optimizer
    step: those that some later mini-batch trains on. The first mini-batch needs none: until it steps, the
    policy *is* the sampling policy, so its own log-probs (detached) are the old ones. With one mini-batch
    per rollout (the ratio is identically 1) no row needs them.

    >>> micro = lambda *rows: MicroBatch(torch.tensor(rows), 1.0)
    >>> rows_needing_old_logprobs([[micro(3, 1)], [micro(0, 2)]]).tolist()
    [0, 2]
    >>> rows_needing_old_logprobs([[micro(3, 1)], [micro(1, 0)]]).tolist()  # a second epoch sees row 1 again
    [0, 1]
    >>> rows_needing_old_logprobs([[micro(0, 1), micro(2, 3)]]).tolist()
    []
    """
    later = [micro.indices for minibatch in schedule[1:] for micro in minibatch]
    return torch.unique(torch.cat(later)) if later else torch.zeros(0, dtype=torch.long)
