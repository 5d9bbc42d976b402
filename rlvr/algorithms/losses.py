"""Policy-gradient losses: a per-token objective, then an aggregation over tokens.

The two are kept apart because that is exactly where GRPO, Dr. GRPO and the paper's clipping ablation
differ: ``clip`` picks the per-token objective from ``POLICY_LOSSES``, ``aggregation`` picks how the
[B, T] token losses become one scalar from ``LOSS_AGGREGATIONS``.

Shapes: B sequences (responses), T response-token positions; ``mask`` marks the valid (non-padding)
response tokens, nonzero = valid. Padded positions are ignored, but should hold finite log-probs.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor

from rlvr.algorithms.kl import kl_penalty
from rlvr.registry import Registry

# (logprobs [B, T], old_logprobs [B, T], advantages [B], *, clip_low, clip_high) -> token loss [B, T]
PolicyLossFn = Callable[..., Tensor]
# (token_loss [B, T], valid [B, T] bool, *, max_response_len) -> scalar loss
AggregationFn = Callable[..., Tensor]

POLICY_LOSSES: Registry[PolicyLossFn] = Registry("policy loss (clip mode)")
LOSS_AGGREGATIONS: Registry[AggregationFn] = Registry("loss aggregation")


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``x`` over the positions where ``mask`` is nonzero; 0 (not NaN) if there are none."""
    valid = mask.bool()
    total = torch.where(valid, x, torch.zeros_like(x)).sum()  # []
    return total / valid.sum().clamp(min=1)  # []


def _per_sequence(advantages: Tensor) -> Tensor:
    """[B] -> [B, 1], detached: one advantage per sequence, broadcast over its tokens, a constant."""
    return advantages.detach().unsqueeze(-1)  # [B, 1]


# ---------------------------------------------------------------------------------------------------
# Per-token objectives. Each returns the [B, T] loss (to minimise) before masking.
# ---------------------------------------------------------------------------------------------------


@POLICY_LOSSES.register("standard")
def clipped_surrogate_loss(
    logprobs: Tensor, old_logprobs: Tensor, advantages: Tensor, *, clip_low: float, clip_high: float
) -> Tensor:
    """PPO clipped surrogate: -min(r A, clip(r, 1 - clip_low, 1 + clip_high) A), r = pi / pi_old."""
    adv = _per_sequence(advantages)  # [B, 1]
    ratio = torch.exp(logprobs - old_logprobs)  # [B, T]
    clipped_ratio = ratio.clamp(1.0 - clip_low, 1.0 + clip_high)  # [B, T]
    return torch.maximum(-ratio * adv, -clipped_ratio * adv)  # [B, T]; -min(x, y) = max(-x, -y)


@POLICY_LOSSES.register("none")
def unclipped_surrogate_loss(
    logprobs: Tensor, old_logprobs: Tensor, advantages: Tensor, *, clip_low: float, clip_high: float
) -> Tensor:
    """Importance-weighted policy gradient without clipping: -r A. clip_low/high are unused."""
    ratio = torch.exp(logprobs - old_logprobs)  # [B, T]
    return -ratio * _per_sequence(advantages)  # [B, T]


@POLICY_LOSSES.register("no_old_logprob")
def no_old_logprob_loss(
    logprobs: Tensor, old_logprobs: Tensor, advantages: Tensor, *, clip_low: float, clip_high: float
) -> Tensor:
    """-pi(token) A, with no division by pi_old.

    What the paper's code runs when clipping is "disabled": the ratio's denominator is dropped as well,
    so the gradient of a token is weighted by its probability under the current policy.
    old_logprobs, clip_low and clip_high are unused.
    """
    return -torch.exp(logprobs) * _per_sequence(advantages)  # [B, T]


# ---------------------------------------------------------------------------------------------------
# Aggregations: [B, T] token loss -> scalar. None of them returns NaN when tokens are missing.
# ---------------------------------------------------------------------------------------------------


def _masked_sum(token_loss: Tensor, valid: Tensor, dim: Optional[int] = None) -> Tensor:
    """Sum of the valid entries (``where`` rather than ``* mask`` so padding garbage cannot leak in)."""
    kept = torch.where(valid, token_loss, torch.zeros_like(token_loss))  # [B, T]
    return kept.sum() if dim is None else kept.sum(dim=dim)


@LOSS_AGGREGATIONS.register("token-mean")
def token_mean(token_loss: Tensor, valid: Tensor, **_: Optional[int]) -> Tensor:
    """Every valid token in the batch weighs the same: sum(l m) / sum(m)."""
    return _masked_sum(token_loss, valid) / valid.sum().clamp(min=1)  # []


@LOSS_AGGREGATIONS.register("seq-mean-token-mean")
def seq_mean_token_mean(token_loss: Tensor, valid: Tensor, **_: Optional[int]) -> Tensor:
    """Every sequence weighs the same (GRPO): mean_b [sum_t(l m) / sum_t(m)]; an empty sequence adds 0."""
    per_sequence = _masked_sum(token_loss, valid, dim=-1) / valid.sum(dim=-1).clamp(min=1)  # [B]
    return per_sequence.mean()  # []


@LOSS_AGGREGATIONS.register("seq-mean-token-sum-norm")
def seq_mean_token_sum_norm(
    token_loss: Tensor, valid: Tensor, *, max_response_len: Optional[int] = None, **_: Optional[int]
) -> Tensor:
    """Dr. GRPO: sum(l m) / (B * max_response_len), a constant normaliser free of length bias."""
    if max_response_len is None:
        raise ValueError("aggregation 'seq-mean-token-sum-norm' needs max_response_len")
    num_sequences = token_loss.shape[0]
    return _masked_sum(token_loss, valid) / (num_sequences * max_response_len)  # []


@LOSS_AGGREGATIONS.register("pack-token-mean")
def pack_token_mean(
    token_loss: Tensor, valid: Tensor, *, pack_size: Optional[int] = None, **_: Optional[int]
) -> Tensor:
    """The paper's official code: OpenRLHF with ``--packing_samples`` and ``--micro_train_batch_size 4``
    packs ``pack_size`` responses into one sequence, and its loss is the token mean over that sequence
    (``masked_mean(loss, mask, dim=-1).mean()``); DeepSpeed then averages the packs of an optimizer step.
    So: consecutive groups of ``pack_size`` sequences (B a multiple of it), a token mean in each, a mean
    over them. Between ``token-mean`` (one pack of everything) and ``seq-mean-token-mean`` (packs of one).
    """
    if pack_size is None or pack_size < 1 or token_loss.shape[0] % pack_size:
        raise ValueError(f"aggregation 'pack-token-mean' needs a pack_size that divides the batch of "
                         f"{token_loss.shape[0]} sequences, got {pack_size}")  # fmt: skip
    sums = _masked_sum(token_loss, valid, dim=-1).view(-1, pack_size).sum(-1)  # [B / pack]
    counts = valid.sum(dim=-1).view(-1, pack_size).sum(-1).clamp(min=1)  # [B / pack]
    return (sums / counts).mean()  # []


def aggregate_loss(
    token_loss: Tensor,
    mask: Tensor,
    aggregation: str,
    max_response_len: Optional[int] = None,
    pack_size: Optional[int] = None,
) -> Tensor:
    """Reduce a [B, T] token loss to a scalar with the named aggregation.

    Args:
        token_loss: [B, T] per-token loss.
        mask: [B, T] bool or float, nonzero = valid response token.
        aggregation: a name in ``LOSS_AGGREGATIONS``.
        max_response_len: the generation length cap; required by "seq-mean-token-sum-norm".
        pack_size: responses per pack; required by "pack-token-mean".
    """
    aggregate = LOSS_AGGREGATIONS.get(aggregation)
    return aggregate(token_loss, mask.bool(), max_response_len=max_response_len, pack_size=pack_size)


# ---------------------------------------------------------------------------------------------------
# Diagnostics
# ---------------------------------------------------------------------------------------------------


@torch.no_grad()
def _ratio_metrics(
    logprobs: Tensor, old_logprobs: Tensor, advantages: Tensor, valid: Tensor, clip_low: float, clip_high: float
) -> dict[str, Tensor]:
    """Detached 0-dim statistics of r = pi / pi_old over the valid tokens; all 0 if there are none.

    The clip fractions count the tokens where the standard PPO clip binds (its gradient is zeroed):
    A < 0 and r < 1 - clip_low ("low"), A > 0 and r > 1 + clip_high ("high"). They are computed in
    every clip mode, so for "none" and "no_old_logprob" they say how much the standard clip *would*
    have clipped, which is what the paper's clipping ablation plots.
    """
    adv = _per_sequence(advantages)  # [B, 1]
    log_ratio = logprobs - old_logprobs  # [B, T]
    ratio = torch.exp(log_ratio)  # [B, T]
    num_valid = valid.sum().clamp(min=1)  # []
    any_valid = valid.any()  # []
    zero = torch.zeros((), dtype=ratio.dtype, device=ratio.device)

    clipped_low = valid & (adv < 0) & (ratio < 1.0 - clip_low)  # [B, T]
    clipped_high = valid & (adv > 0) & (ratio > 1.0 + clip_high)  # [B, T]
    clip_frac_low = clipped_low.sum().to(ratio.dtype) / num_valid  # []
    clip_frac_high = clipped_high.sum().to(ratio.dtype) / num_valid  # []

    ratio_max = torch.where(valid, ratio, torch.full_like(ratio, -torch.inf)).amax()  # []
    ratio_min = torch.where(valid, ratio, torch.full_like(ratio, torch.inf)).amin()  # []
    k3_kl = (ratio - 1.0) - log_ratio  # [B, T]; Schulman's k3 estimate of KL(pi_old || pi), >= 0

    return {
        "clip_frac_low": clip_frac_low,
        "clip_frac_high": clip_frac_high,
        "clip_frac": clip_frac_low + clip_frac_high,
        "ratio_max": torch.where(any_valid, ratio_max, zero),
        "ratio_min": torch.where(any_valid, ratio_min, zero),
        "ratio_mean": masked_mean(ratio, valid),
        "approx_kl": masked_mean(k3_kl, valid),
    }


def _check_shapes(logprobs: Tensor, old_logprobs: Tensor, advantages: Tensor, mask: Tensor) -> None:
    if logprobs.dim() != 2 or old_logprobs.shape != logprobs.shape or mask.shape != logprobs.shape:
        raise ValueError(
            f"logprobs, old_logprobs and mask must all be [B, T]; got {tuple(logprobs.shape)}, "
            f"{tuple(old_logprobs.shape)} and {tuple(mask.shape)}"
        )
    if advantages.shape != logprobs.shape[:1]:
        raise ValueError(f"advantages must be [B] = [{logprobs.shape[0]}], got {tuple(advantages.shape)}")


def policy_loss(
    logprobs: Tensor,
    old_logprobs: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    clip: str = "standard",
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    aggregation: str = "seq-mean-token-mean",
    max_response_len: Optional[int] = None,
    pack_size: Optional[int] = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Policy-gradient loss of a batch of responses.

    Args:
        logprobs: [B, T] log-probs of the sampled tokens under the policy being trained (carries grad).
        old_logprobs: [B, T] log-probs under the policy that generated them (treated as constants).
        advantages: [B] one advantage per response, broadcast over its tokens; no grad flows into it.
        mask: [B, T] bool or float, nonzero = valid response token.
        clip: per-token objective, a name in ``POLICY_LOSSES`` ("standard", "none", "no_old_logprob").
        clip_low, clip_high: the standard clip range is [1 - clip_low, 1 + clip_high]; also used for the
            clip-fraction metrics in every mode.
        aggregation: a name in ``LOSS_AGGREGATIONS``.
        max_response_len: required by "seq-mean-token-sum-norm".
        pack_size: required by "pack-token-mean".

    Returns:
        loss: [] scalar to minimise.
        metrics: detached 0-dim tensors: clip_frac_low, clip_frac_high, clip_frac, ratio_max, ratio_min,
            ratio_mean, approx_kl (k3). See ``_ratio_metrics``.
    """
    _check_shapes(logprobs, old_logprobs, advantages, mask)
    token_loss_fn = POLICY_LOSSES.get(clip)  # look up both names before any compute: fail fast
    LOSS_AGGREGATIONS.get(aggregation)
    old_logprobs = old_logprobs.detach()

    token_loss = token_loss_fn(logprobs, old_logprobs, advantages, clip_low=clip_low, clip_high=clip_high)  # [B, T]
    loss = aggregate_loss(token_loss, mask, aggregation, max_response_len, pack_size)  # []
    metrics = _ratio_metrics(logprobs.detach(), old_logprobs, advantages, mask.bool(), clip_low, clip_high)
    return loss, metrics


def regularisation_loss(
    logprobs: Tensor,
    entropy: Optional[Tensor],
    ref_logprobs: Optional[Tensor],
    mask: Tensor,
    *,
    kl_coef: float,
    kl_estimator: str,
    entropy_coef: float,
    aggregation: str,
    max_response_len: Optional[int] = None,
    pack_size: Optional[int] = None,
) -> tuple[Tensor, Optional[Tensor]]:
    """The optional KL penalty towards a frozen reference and entropy bonus, each aggregated like the policy
    loss: ``kl_coef * KL - entropy_coef * H``, 0 when both are off (the paper's setting).

    Returns the loss [] and the aggregated KL [] (None without ``ref_logprobs``), for logging.
    """
    total = torch.zeros((), device=logprobs.device)
    kl = None
    if ref_logprobs is not None:
        kl = aggregate_loss(kl_penalty(logprobs, ref_logprobs, kl_estimator), mask, aggregation, max_response_len, pack_size)
        total = total + kl_coef * kl
    if entropy_coef:
        total = total - entropy_coef * aggregate_loss(entropy, mask, aggregation, max_response_len, pack_size)
    return total, kl
