"""Schemas of the ``engine`` group (rollout engines) and the ``trainer`` group (the DeepSpeed policy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING


@dataclass
class EngineConfig:
    """``_target_`` is called with (model_path, tokenizer, dtype, trust_remote_code, device) plus the
    engine's own fields below, and returns a ``rlvr.rollout.RolloutEngine``."""

    _target_: str = MISSING
    """The engine's constructor: ``rlvr.rollout.HFEngine.from_pretrained`` or
    ``rlvr.rollout.vllm.VLLMEngine.from_pretrained``."""


@dataclass
class HFEngineConfig(EngineConfig):
    """``transformers.generate`` (``rlvr.rollout.HFEngine``): CPU runs and small GPU checks."""

    max_batch_size: int = MISSING
    """Sequences per generate call."""


@dataclass
class VLLMEngineConfig(EngineConfig):
    """vLLM inside each training process (``rlvr.rollout.vllm.VLLMEngine``), sharing the GPU with the
    DeepSpeed policy; needs ``pip install -r requirements-gpu.txt``."""

    gpu_memory_utilization: float = MISSING
    """Share of the whole GPU for vLLM's weights, activations, CUDA graphs and KV cache, free when the engine
    starts; the trainer gets the rest. 0.6: a 7B policy's whole rollout batch on 80 GB next to ZeRO-3 over 8
    GPUs, with sleep mode (the arithmetic is in ``conf/engine/vllm.yaml``)."""
    tensor_parallel_size: int = MISSING
    """Must stay 1 under torchrun: every rank samples its own prompts."""
    max_model_len: Optional[int] = MISSING
    """Prompt + response tokens; null: the model's context (Qwen2.5-Math: 4096 = 1024 + 3072)."""
    max_num_seqs: Optional[int] = MISSING
    """Sequences decoded at once; null: vLLM's default."""
    max_num_batched_tokens: Optional[int] = MISSING
    """Tokens per scheduler step; null: vLLM's default."""
    enable_prefix_caching: bool = MISSING
    """The samples of a prompt share its KV blocks (the cache is reset after every weight update)."""
    enforce_eager: bool = MISSING
    """True: no CUDA graphs (slower decoding, less memory, faster start)."""
    enable_sleep_mode: bool = MISSING
    """True: the engine releases its memory while the policy updates (``engine.sleep()`` after the rollouts;
    the next weight push and generate take it back)."""
    sleep_level: int = MISSING
    """2: weights and KV cache dropped (the weight push after each update refills them); 1: weights backed up
    to pinned CPU memory (15 GB per GPU for a 7B model) and copied back on wake, KV cache dropped."""
    seed: int = MISSING
    """The engine's own seed (the run's); each call passes per-request seeds on top."""
    distributed_executor_backend: Optional[str] = MISSING
    """``auto``: external_launcher under torchrun (an engine per rank), else vLLM's default."""
    llm_kwargs: dict[str, Any] = MISSING
    """Any other ``vllm.LLM`` argument, e.g. ``+engine.llm_kwargs.max_logprobs=0``."""


@dataclass
class TrainerConfig:
    """The training engine: DeepSpeed, one code path on CPU (gloo) and GPUs (NCCL)."""

    device: str = MISSING
    """``auto`` (CUDA when visible), ``cpu`` or ``cuda``."""
    zero_stage: int = MISSING
    """DeepSpeed ZeRO stage; 3 partitions weights, gradients and optimizer state over the ranks."""
    single_process_zero_stage: Optional[int] = MISSING
    """The stage a run of one process uses instead (``null``: ``zero_stage``). With one rank ZeRO-3 has
    nothing to partition, and its per-module gather and release hooks only cost time: stage 1 gives the same
    weights (``tests/train/test_update.py``) in half the step time (``benchmarks/bench_step.py``)."""
    micro_batch_size: int = MISSING
    """Samples per forward/backward on each process; micro-batches accumulate to a mini-batch."""
    logprob_chunk_tokens: int = MISSING
    """Response tokens whose full-vocabulary logits exist at once when log-probs are computed: bounds that
    memory by a chunk whatever the response length (``rlvr.train.batch.chunked_token_logprobs``)."""
    total_steps: int = MISSING
    """GRPO steps; the paper's figures: 300 (``conf/experiment/base/paper.yaml``)."""
    checkpoint_every: int = MISSING
    """Write a checkpoint every N steps, and at the end."""
    log_rollouts_every: int = MISSING
    """Write ``rollouts/step_<n>.parquet`` every N steps (0: never)."""
    resume: str = MISSING
    """``auto``: a run started in a run directory that holds a complete checkpoint continues from the latest
    one (a SLURM requeue, or the same command with the same ``hydra.run.dir``); ``never``: start over (an
    existing run directory is an error); ``must``: fail unless there is a checkpoint to resume from."""
    keep_last: int = MISSING
    """Full-state checkpoints (optimizer, RNG) kept; older ones keep only their HF weights for evaluation."""
    max_consecutive_nonfinite: int = MISSING
    """Optimizer steps in a row whose loss or gradient norm is not finite (each one is skipped, on every
    rank, leaving weights and optimizer state as they were: ``rlvr.train.nonfinite``) after which the run
    stops with a checkpoint of the last finite weights. At least 1."""
    min_free_gb: float = MISSING
    """Free space the run directory's disk must keep beyond the checkpoints the run will write (logs,
    rollouts, evaluation records), checked at start with them (``rlvr.train.rundir.check_run_dir``)."""
