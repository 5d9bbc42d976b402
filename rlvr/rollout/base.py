"""The rollout-engine interface: prompts and sampling parameters in; tokens, text and finish reason out.

The trainer, the evaluator and the labeller talk only to this interface. ``HFEngine`` implements it with
``transformers.generate`` (CPU and small GPU runs); ``VLLMEngine`` implements it on GPUs. After every policy
update the trainer pushes the new weights in with ``load_weights``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Iterable, Literal, Sequence

import torch

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class SamplingParams:
    n: int = 1  # samples per prompt (GRPO's group size)
    temperature: float = 1.0  # 0 means greedy; at most 2 (vLLM's limit)
    top_p: float = 1.0
    max_new_tokens: int = 256
    seed: int | None = None
    stop: tuple[str, ...] = ()  # extra stop strings (e.g. "</answer>"); EOS always stops

    def __post_init__(self) -> None:
        if self.n < 1 or self.max_new_tokens < 1:
            raise ValueError(f"SamplingParams needs n >= 1 and max_new_tokens >= 1, got {self}")
        if not 0 <= self.temperature <= 2:  # vLLM's range (vllm/sampling_params.py, _verify_args); NaN fails too
            raise ValueError(f"SamplingParams.temperature must be in [0, 2] (0: greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"SamplingParams.top_p must be in (0, 1], got {self.top_p}")


@dataclass(frozen=True)
class Completion:
    token_ids: tuple[int, ...]  # the response's tokens, including the EOS token when it finished
    text: str  # decoded response, without EOS
    finish_reason: FinishReason  # "stop": EOS or a stop string; "length": hit max_new_tokens


class RolloutEngine(abc.ABC):
    """Everything the trainer, the evaluator and the labeller use of an engine."""

    pad_id: int
    """The token id that pads rows in the trainer's batches (masked out; the tokenizer's pad, else an EOS)."""

    @abc.abstractmethod
    def generate(self, prompts: Sequence[Sequence[int]], params: SamplingParams) -> list[list[Completion]]:
        """``params.n`` completions for each prompt (token ids), in prompt order."""

    @abc.abstractmethod
    def load_weights(self, weights: Iterable[tuple[str, torch.Tensor]]) -> None:
        """Replace the engine's weights with the policy's (names as in ``model.named_parameters()``)."""

    def sleep(self) -> None:
        """Release the engine's accelerator memory while the policy updates; the trainer calls it after each
        step's rollouts. A no-op unless an engine can (vLLM with ``enable_sleep_mode``)."""

    def wake_up(self) -> None:
        """Take that memory back. ``load_weights`` and ``generate`` call it themselves, so callers need not."""
