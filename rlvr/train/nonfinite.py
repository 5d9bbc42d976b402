"""Optimizer steps whose loss or gradient is not finite are skipped on every rank alike; a run that keeps
producing them stops, with a checkpoint of the last finite weights, instead of training on NaN weights.

How a step is skipped: DeepSpeed's ZeRO optimizers compute the global gradient norm before they step (each
rank the norm of its gradient partition, then one all-reduce), and when it is not finite they drop the
accumulated gradients and leave the weights, the optimizer state and the learning-rate schedule as they were
(``deepspeed/runtime/zero/stage3.py``: ``step`` -> ``_loss_scale_update_and_overflow_cleanup``; the engine
then reports ``was_step_applied() == False`` and counts ``skipped_steps``, which its checkpoints keep).
A non-finite gradient on one rank reaches every rank's partitions through the gradient reduction, and the
norm is all-reduced, so every rank skips the same mini-batches: the flag *is* the norm.

A non-finite *loss* need not give a non-finite gradient (a NaN in a term that has no gradient path), so the
loop back-propagates ``poisoned(loss)``: the loss times exactly 1, or times NaN when it is not finite, whose
NaN then reaches every gradient of the mini-batch. The flag stays on the device (no synchronisation).

A step applied although its norm was not finite (a ZeRO stage or dtype without DeepSpeed's check) is an
error at once: the weights are no longer finite.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import torch

from rlvr.train.metrics import StepMetrics

log = logging.getLogger(__name__)


class NonFiniteError(RuntimeError):
    """The run stopped because of non-finite losses or gradients; the message says what was kept."""


def poisoned(loss: torch.Tensor) -> torch.Tensor:
    """``loss`` unchanged (times exactly 1) where it is finite, else NaN with a NaN gradient, so that the
    optimizer step of its mini-batch is skipped (the NaN accumulates into every gradient it flows to).

    >>> x = torch.tensor(2.0, requires_grad=True)
    >>> y = poisoned(x * 3); y.backward(); (y.item(), x.grad.item())
    (6.0, 3.0)
    >>> x.grad = None; y = poisoned(x * float("inf")); y.backward(); (y.item(), x.grad.item())
    (nan, nan)
    """
    return loss * torch.where(torch.isfinite(loss.detach()), 1.0, float("nan"))


class NonFiniteGuard:
    """Counts the optimizer steps DeepSpeed skipped and says when ``limit`` of them came in a row.

    ``after_step`` is called once per mini-batch, after the ``engine.step()`` of its last micro-batch
    (the accumulation boundary). It adds ``actor/skipped_frac`` (the share of this step's optimizer steps
    that were skipped), ``actor/skipped_total`` (skipped since the run began, from DeepSpeed's checkpointed
    counter) and ``actor/grad_norm`` (over the applied steps only: a skipped one has no norm)."""

    def __init__(self, limit: int, *, is_main: bool) -> None:
        if limit < 1:
            raise ValueError(f"trainer.max_consecutive_nonfinite={limit} must be >= 1")
        self.limit, self.is_main = limit, is_main
        self.consecutive = 0  # skipped optimizer steps since the last applied one

    def after_step(self, policy, metrics: StepMetrics, step: int, update: int) -> bool:
        """Record mini-batch ``update`` (1-based) of ``step``; True once ``limit`` steps in a row were skipped."""
        applied, norm = policy.was_step_applied(), policy.get_global_grad_norm()
        if applied and norm is not None and not math.isfinite(float(norm)):
            raise NonFiniteError(
                f"step {step}, update {update}: an optimizer step was applied with gradient norm {float(norm)}, so "
                "the weights are no longer finite; DeepSpeed skips such steps under ZeRO (trainer.zero_stage=3) "
                "in float32, bfloat16 and float16"
            )
        metrics.add_mean("actor/skipped_frac", 0.0 if applied else 1.0)
        metrics.add_max("actor/skipped_total", float(policy.skipped_steps))
        if applied:
            self.consecutive = 0
            metrics.add_mean("actor/grad_norm", float("nan") if norm is None else norm)
            return False
        self.consecutive += 1
        if self.is_main:
            log.warning(
                "step %d, update %d: the loss or the gradient norm was not finite; optimizer step skipped "
                "(%d in a row; the run stops at trainer.max_consecutive_nonfinite=%d)",
                step, update, self.consecutive, self.limit,
            )  # fmt: skip
        return self.consecutive >= self.limit

    def stop_message(self, step: int, run_path: Path) -> str:
        return (
            f"{self.consecutive} optimizer steps in a row were skipped because their loss or gradient norm was not "
            f"finite (the last in step {step}; trainer.max_consecutive_nonfinite={self.limit}): the run stops. "
            f"The weights before them, never changed by a skipped step, are in the checkpoint "
            f"{Path(run_path) / 'checkpoints' / f'step_{step}'}. The metrics and rollouts of the steps before it "
            "may show where the numbers went wrong; a lower algorithm.lr may keep them finite."
        )
