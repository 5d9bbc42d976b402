"""DeepSpeed: the engine's config from ours, the policy under ZeRO, and full weights out of it."""

from __future__ import annotations

from typing import Any, Iterator

import torch


def deepspeed_config(
    *,
    mini_batch_size: int,
    micro_batch_size: int,
    world_size: int,
    zero_stage: int,
    grad_clip: float,
    dtype: str,
) -> dict[str, Any]:
    """One optimizer step per mini-batch: DeepSpeed accumulates micro-batches across steps and ranks."""
    return {
        "train_batch_size": mini_batch_size,
        "train_micro_batch_size_per_gpu": micro_batch_size,
        "gradient_accumulation_steps": mini_batch_size // (micro_batch_size * world_size),
        "gradient_clipping": grad_clip,
        "zero_optimization": {"stage": zero_stage},
        "bf16": {"enabled": dtype == "bfloat16"},
        "fp16": {"enabled": dtype == "float16"},
        "steps_per_print": 10**9,  # we log ourselves
        "wall_clock_breakdown": False,
    }


def load_policy(path: str, ds_config: dict[str, Any], *, dtype: str, trust_remote_code: bool, gradient_checkpointing: bool):
    """The trainable policy. Under ZeRO-3 it is partitioned while loading (``HfDeepSpeedConfig``), so
    no rank ever holds a 7B model whole."""
    from transformers.integrations import HfDeepSpeedConfig

    from rlvr.models import load_causal_lm

    # Must stay referenced while from_pretrained runs: transformers keeps only a weak reference to it.
    hf_ds_config = HfDeepSpeedConfig(ds_config) if ds_config["zero_optimization"]["stage"] == 3 else None
    model = load_causal_lm(path, dtype=dtype, trust_remote_code=trust_remote_code)
    del hf_ds_config
    if gradient_checkpointing:
        model.gradient_checkpointing_enable()
    model.config.use_cache = False
    return model


def full_parameters(module: torch.nn.Module, chunk_numel: int = 2**28) -> Iterator[tuple[str, torch.Tensor]]:
    """``(name, full tensor)`` for every parameter, gathering ZeRO-3 partitions a chunk at a time.

    Collective: every rank must iterate to the end. A tensor is valid only until the next one is
    yielded (its chunk is re-partitioned), so consumers copy it right away.
    """
    chunk: list[tuple[str, torch.nn.Parameter]] = []
    numel = 0
    for name, param in module.named_parameters():
        chunk.append((name, param))
        numel += getattr(param, "ds_numel", param.numel())
        if numel >= chunk_numel:
            yield from _gathered(chunk)
            chunk, numel = [], 0
    yield from _gathered(chunk)


def _gathered(chunk: list[tuple[str, torch.nn.Parameter]]) -> Iterator[tuple[str, torch.Tensor]]:
    import deepspeed

    if not chunk:
        return
    with deepspeed.zero.GatheredParameters([p for _, p in chunk], modifier_rank=None):
        for name, param in chunk:
            yield name, param.data


def load_reference(path: str, ds_config: dict[str, Any], *, dtype: str, trust_remote_code: bool):
    """A frozen copy of the starting policy for the KL penalty, sharded like the policy but with no
    optimizer state (the way TRL prepares its reference model for ZeRO-3)."""
    import deepspeed

    config = {k: v for k, v in ds_config.items() if k != "gradient_clipping"}
    if config["zero_optimization"]["stage"] != 3:
        config["zero_optimization"] = {"stage": 0}  # ZeRO-1/2 only shard optimizer state: nothing to shard
    model = load_policy(path, config, dtype=dtype, trust_remote_code=trust_remote_code, gradient_checkpointing=False)
    model.requires_grad_(False)
    engine, *_ = deepspeed.initialize(model=model, config=config)
    engine.eval()
    return engine
