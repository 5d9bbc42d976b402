"""The policy under DeepSpeed: its config from ours, loading (partitioned under ZeRO-3), full weights out
of it, the frozen reference, and checkpoints."""

from __future__ import annotations

import hashlib
from typing import Any, Iterator

import torch

from rlvr.config import AlgorithmConfig, ModelConfig, TrainerConfig
from rlvr.hf import load_causal_lm
from rlvr.train import distributed as D


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
    zero: dict[str, Any] = {"stage": zero_stage}
    if zero_stage == 3:
        # ZeRO-3's memory-efficient linear (a process-wide replacement of F.linear) saves memory only where a
        # weight is gathered from other ranks; in a world of one it is only Python overhead on every linear
        # layer, training and the HF engine's generation alike (a fifth of the tiny model's generation time).
        zero["memory_efficient_linear"] = world_size > 1
    return {
        "train_batch_size": mini_batch_size,
        "train_micro_batch_size_per_gpu": micro_batch_size,
        "gradient_accumulation_steps": mini_batch_size // (micro_batch_size * world_size),
        "gradient_clipping": grad_clip,
        "zero_optimization": zero,
        "bf16": {"enabled": dtype == "bfloat16"},
        "fp16": {"enabled": dtype == "float16"},
        "steps_per_print": 10**9,  # we log ourselves
        "wall_clock_breakdown": False,
    }


def zero_stage_for(trainer: TrainerConfig, world_size: int) -> int:
    """The ZeRO stage of a run: ``trainer.single_process_zero_stage`` in a world of one (unless null),
    else ``trainer.zero_stage``. Fixed by the world size, which a resumed run must keep."""
    if world_size == 1 and trainer.single_process_zero_stage is not None:
        return trainer.single_process_zero_stage
    return trainer.zero_stage


def load_policy(path: str, ds_config: dict[str, Any], *, dtype: str, trust_remote_code: bool, gradient_checkpointing: bool):
    """The trainable policy. Under ZeRO-3 it is partitioned while loading (``HfDeepSpeedConfig``), so
    no rank ever holds a 7B model whole."""
    from transformers.integrations import HfDeepSpeedConfig

    # Must stay referenced while from_pretrained runs: transformers keeps only a weak reference to it.
    hf_ds_config = HfDeepSpeedConfig(ds_config) if ds_config["zero_optimization"]["stage"] == 3 else None
    model = load_causal_lm(path, dtype=dtype, trust_remote_code=trust_remote_code)
    del hf_ds_config
    if gradient_checkpointing:
        model.gradient_checkpointing_enable()
    model.config.use_cache = False
    return model


def init_policy(model_path: str, model: ModelConfig, algorithm: AlgorithmConfig, trainer: TrainerConfig, world_size: int):
    """The trainable policy as a DeepSpeed engine with AdamW (a constant learning rate, as in the paper):
    one optimizer step per mini-batch of ``algorithm.mini_batch_size`` samples over all ranks."""
    import deepspeed

    ds_config = deepspeed_config(
        mini_batch_size=algorithm.mini_batch_size,
        micro_batch_size=trainer.micro_batch_size,
        world_size=world_size,
        zero_stage=zero_stage_for(trainer, world_size),
        grad_clip=algorithm.grad_clip,
        dtype=model.dtype,
    )
    module = load_policy(
        model_path,
        ds_config,
        dtype=model.dtype,
        trust_remote_code=model.trust_remote_code,
        gradient_checkpointing=model.gradient_checkpointing,
    )
    optimizer = torch.optim.AdamW(
        module.parameters(), lr=algorithm.lr, betas=tuple(algorithm.betas), eps=algorithm.adam_eps,
        weight_decay=algorithm.weight_decay,
    )
    engine, *_ = deepspeed.initialize(model=module, optimizer=optimizer, config=ds_config)
    # from_pretrained returns the model in eval mode, and transformers checkpoints activations only in
    # training mode: without this, gradient checkpointing is silently off (out of memory at 7B x 4k tokens).
    # The paper's models have no dropout to switch on.
    engine.train()
    return engine, ds_config


def count_parameters(module: torch.nn.Module) -> int:
    """Parameters of the whole model, also when ZeRO-3 holds only a partition of each on this rank."""
    return sum(getattr(p, "ds_numel", p.numel()) for p in module.parameters())


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


def replicas_identical(module: torch.nn.Module) -> bool:
    """Do all ranks hold the same full weights? (Each rank hashes what it gathers; rank 0 compares.)"""
    digest = hashlib.sha256()
    for name, tensor in full_parameters(module):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    digests = D.gather_to_main(digest.hexdigest())
    return D.broadcast_from_main(digests is not None and len(set(digests)) == 1)
