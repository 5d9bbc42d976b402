"""Schemas of the ``algorithm`` and ``clip`` groups: how a GRPO step samples, scores and updates.

Values live in the YAML files (``conf/algorithm/grpo.yaml`` holds the paper's); the fields are declared,
typed and documented here. "Paper" is Shao et al. 2025, "Spurious Rewards: Rethinking Training Signals in
RLVR" (arXiv:2506.10947), Sec. 2 and App. A, and its code (github.com/ruixin31/Spurious_Rewards, a
TTRL/OpenRLHF fork).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING


@dataclass
class AdvantageConfig:
    estimator: str = MISSING
    """``grpo``: (r - mean) / (std + eps) within a group (paper); ``dr_grpo``: r - mean (Liu et al. 2025).
    Any name of ``rlvr.algorithms.ADVANTAGE_ESTIMATORS``."""
    ddof: int = MISSING
    """Degrees of freedom of the group std: 1 (unbiased) as in the paper's code; 0 for the population std."""
    eps: float = MISSING
    """Added to the group std: 1e-9 in the paper's code (verl uses 1e-6, TRL 1e-4, open-instruct 1e-8)."""
    whiten: bool = MISSING
    """Then whiten the advantages over every response token of the rollout, across ranks, as the paper's
    official code does (OpenRLHF's replay buffer ``normalize("advantages")``; ``algorithm=grpo_official``);
    ``rlvr.algorithms.whiten_advantages``. Off in ``grpo`` and ``dr_grpo``."""


@dataclass
class KLConfig:
    coef: float = MISSING
    """Weight of a KL penalty towards a frozen copy of the starting policy; 0 (off) in the paper. The
    reference model is only loaded when it is > 0."""
    estimator: str = MISSING
    """``k1`` | ``k2`` | ``k3`` (Schulman 2020; ``rlvr.algorithms.KL_ESTIMATORS``)."""


@dataclass
class AlgorithmConfig:
    """One GRPO step: ``rollout_batch_size`` prompts x ``group_size`` samples, shuffled and split into
    mini-batches of ``mini_batch_size`` samples, one optimizer step each, ``epochs_per_rollout`` passes.
    With the paper's 64 x 16 / 128 that is 8 optimizer steps per rollout, which is what lets the clip bind."""

    name: str = MISSING
    """``grpo`` or ``dr_grpo``: names the file, for run names and analysis."""
    rollout_batch_size: int = MISSING
    """Prompts per step; paper: 64. ``model=tiny`` scales it to 8 for a CPU."""
    group_size: int = MISSING
    """Samples per prompt (GRPO's group); paper: 16. Must be >= 2 (a group of one has no baseline)."""
    temperature: float = MISSING
    """Sampling temperature of the rollouts; paper: 1.0. Log-probs are computed at the same temperature."""
    top_p: float = MISSING
    """Nucleus sampling of the rollouts; paper: 1.0 (off)."""
    max_prompt_len: int = MISSING
    """Training prompts longer than this many tokens are dropped at start (and counted); paper: 1024."""
    max_response_len: int = MISSING
    """New tokens per rollout; paper: 3072 (Qwen2.5-Math's 4096-token context minus the prompt)."""
    mini_batch_size: int = MISSING
    """Samples per optimizer step; paper: 128. Must divide rollout_batch_size x group_size."""
    epochs_per_rollout: int = MISSING
    """Passes over a rollout's samples; paper: 1."""
    advantage: AdvantageConfig = field(default_factory=AdvantageConfig)
    loss_aggregation: str = MISSING
    """How token losses become one number (``rlvr.algorithms.LOSS_AGGREGATIONS``): ``seq-mean-token-mean``
    (GRPO's per-sequence means), ``pack-token-mean`` (the paper's official code: a token mean over each pack
    of ``pack_size`` responses), ``token-mean`` (DAPO), ``seq-mean-token-sum-norm`` (Dr. GRPO)."""
    pack_size: int = MISSING
    """Responses per pack for ``pack-token-mean``: 4 in the official scripts (``--micro_train_batch_size 4``
    with ``--packing_samples``). Independent of the memory micro-batch (``trainer.micro_batch_size``), which
    must be a multiple of it."""
    kl: KLConfig = field(default_factory=KLConfig)
    entropy_coef: float = MISSING
    """Weight of an entropy bonus; 0 (off) in the paper."""
    lr: float = MISSING
    """Adam learning rate, constant; paper: 5e-7. ``model=tiny`` uses 1e-4."""
    betas: list[float] = MISSING
    """Adam betas; paper: (0.9, 0.95)."""
    adam_eps: float = 1e-8
    """Adam's epsilon; paper: torch's default 1e-8. Far above the gradients' scale it turns Adam into SGD with
    momentum at a step of ``lr / adam_eps`` per unit gradient: a token the model is sure of (gradient near 0)
    then barely moves, as in the paper's App. B analysis, instead of every weight taking an ``lr``-sized step."""
    weight_decay: float = MISSING
    """AdamW weight decay; paper: 0."""
    grad_clip: float = MISSING
    """Global gradient-norm clip; paper: 1.0."""


@dataclass
class ClipConfig:
    """The per-token policy objective and its clip range (paper Sec. 4: clipping is what turns a random
    reward into a push towards the model's prior behaviour)."""

    name: str = MISSING
    """Names the file: ``standard``, ``higher``, ``none``, ``no_old_logprob``, ``one_update_*``."""
    mode: str = MISSING
    """``standard`` (PPO's clipped surrogate), ``none`` (-r A, unclipped), ``no_old_logprob`` (-pi A: what
    the paper's code runs when clipping is "disabled"); ``rlvr.algorithms.POLICY_LOSSES``."""
    low: float = MISSING
    """The ratio is kept above 1 - low; paper: 0.2."""
    high: float = MISSING
    """The ratio is kept below 1 + high; paper: 0.2; DAPO's clip-higher: 0.28."""
    steps_per_rollout: int | None = None
    """The optimizer steps per rollout this setting stands for, checked at plan and start (``one_update_*``: 1,
    the paper's Sec. 4.2 ablation, where a batch override would silently make it an 8-step run); null: any."""
