"""Per-token estimators of KL(pi || pi_ref) from samples of pi, for the optional KL penalty.

The paper trains without one (``algorithm.kl.coef: 0``); the knob is here for the spurious-reward
controls of methods that use it. With ``log_ratio = logprobs - ref_logprobs`` on tokens sampled from pi
(Schulman 2020, "Approximating KL divergence"):

- ``k1 = log_ratio``: unbiased, but negative on some tokens, so a high-variance penalty;
- ``k2 = log_ratio**2 / 2``: biased, low variance, always >= 0;
- ``k3 = exp(-log_ratio) - 1 + log_ratio``: unbiased and always >= 0 (GRPO's choice, DeepSeekMath).

Shapes: [B, T] in, [B, T] out; aggregate with ``rlvr.algorithms.aggregate_loss`` like the policy loss.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from rlvr.registry import Registry

KLEstimatorFn = Callable[[Tensor, Tensor], Tensor]
KL_ESTIMATORS: Registry[KLEstimatorFn] = Registry("KL estimator")

# exp() of a log-ratio beyond this overflows float32 long before it carries information.
_MAX_LOG_RATIO = 20.0


@KL_ESTIMATORS.register("k1")
def kl_k1(logprobs: Tensor, ref_logprobs: Tensor) -> Tensor:
    return logprobs - ref_logprobs  # [B, T]


@KL_ESTIMATORS.register("k2")
def kl_k2(logprobs: Tensor, ref_logprobs: Tensor) -> Tensor:
    return 0.5 * (logprobs - ref_logprobs) ** 2  # [B, T]


@KL_ESTIMATORS.register("k3")
def kl_k3(logprobs: Tensor, ref_logprobs: Tensor) -> Tensor:
    log_ratio = (logprobs - ref_logprobs).clamp(-_MAX_LOG_RATIO, _MAX_LOG_RATIO)  # [B, T]
    return torch.exp(-log_ratio) - 1.0 + log_ratio  # [B, T]


def kl_penalty(logprobs: Tensor, ref_logprobs: Tensor, estimator: str = "k3") -> Tensor:
    """Per-token KL estimate; gradients flow through ``logprobs`` only (the reference is frozen)."""
    if logprobs.shape != ref_logprobs.shape:
        raise ValueError(f"logprobs {tuple(logprobs.shape)} and ref_logprobs {tuple(ref_logprobs.shape)} differ")
    return KL_ESTIMATORS.get(estimator)(logprobs, ref_logprobs.detach())
