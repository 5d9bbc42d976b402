"""Rollouts with ``transformers.generate``: the engine for CPU runs and small GPU checks."""

from __future__ import annotations

import contextlib
from typing import Iterable, Sequence

import torch

from rlvr.hf import load_causal_lm
from rlvr.rollout.base import Completion, RolloutEngine, SamplingParams


class HFEngine(RolloutEngine):
    """Batched sampling from a plain (non-DeepSpeed) copy of the policy.

    Prompts are left-padded so that all rows generate from the same position. Every sampling knob is set
    explicitly (top_k off, no repetition penalty): a model's own ``generation_config.json`` must not change
    the paper's sampling distribution behind the config's back.
    """

    def __init__(self, model, tokenizer, *, max_batch_size: int = 256) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_batch_size = max_batch_size
        eos = model.generation_config.eos_token_id
        if eos is None:
            eos = tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos])
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(self.eos_ids)

    @classmethod
    def from_pretrained(
        cls,
        model_path: str,
        tokenizer,
        *,
        dtype: str = "float32",
        trust_remote_code: bool = False,
        device: str | None = None,
        max_batch_size: int = 256,
    ) -> "HFEngine":
        """The engine config's entry point (``rlvr.rollout.build_engine``): its own whole copy of the model,
        loaded before any ZeRO-3 context exists so that it is never partitioned."""
        model = load_causal_lm(model_path, dtype=dtype, trust_remote_code=trust_remote_code, device=device)
        return cls(model, tokenizer, max_batch_size=max_batch_size)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def load_weights(self, weights: Iterable[tuple[str, torch.Tensor]]) -> None:
        params = dict(self.model.named_parameters())
        for name, tensor in weights:
            if name not in params:
                raise KeyError(f"engine model has no parameter {name!r}")
            params[name].copy_(tensor)

    @torch.no_grad()
    def generate(self, prompts: Sequence[Sequence[int]], params: SamplingParams) -> list[list[Completion]]:
        # Sample i of prompt p sits at row p * n + i, so each prompt's group is contiguous.
        rows = [list(prompt) for prompt in prompts for _ in range(params.n)]
        flat: list[Completion] = []
        rng = torch.random.fork_rng(devices=[]) if params.seed is not None else contextlib.nullcontext()
        with rng:
            if params.seed is not None:
                torch.manual_seed(params.seed)
            for start in range(0, len(rows), self.max_batch_size):
                flat.extend(self._generate_batch(rows[start : start + self.max_batch_size], params))
        return [flat[p * params.n : (p + 1) * params.n] for p in range(len(prompts))]

    def _generate_batch(self, rows: list[list[int]], params: SamplingParams) -> list[Completion]:
        from transformers import GenerationConfig

        width = max(len(r) for r in rows)
        input_ids = torch.tensor([[self.pad_id] * (width - len(r)) + r for r in rows], device=self.device)
        attention_mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=self.device)
        sample = params.temperature > 0
        config = GenerationConfig(
            do_sample=sample,
            temperature=params.temperature if sample else None,
            top_p=params.top_p if sample else None,
            top_k=0 if sample else None,
            repetition_penalty=1.0,
            num_beams=1,
            max_new_tokens=params.max_new_tokens,
            pad_token_id=self.pad_id,
            eos_token_id=sorted(self.eos_ids),
            stop_strings=list(params.stop) or None,
        )
        extra = {"tokenizer": self.tokenizer} if params.stop else {}
        out = self.model.generate(
            input_ids=input_ids, attention_mask=attention_mask, generation_config=config, **extra
        )
        return [self._completion(row.tolist(), params) for row in out[:, width:]]

    def _completion(self, generated: list[int], params: SamplingParams) -> Completion:
        """The sampled tokens of one row, exactly as vLLM returns them: up to and including the EOS that ended
        it, or the token that completed a stop string, never the padding ``generate`` puts after a finished
        row (which is an EOS id when the pad id doubles as EOS, as for Llama 3)."""
        eos_at = next((i for i, token in enumerate(generated) if token in self.eos_ids), None)
        before_eos = generated if eos_at is None else generated[:eos_at]
        stop_end = self._stop_end(before_eos, params.stop) if params.stop else None
        if stop_end is not None:  # the stop string came first: anything after it is padding
            tokens = generated[:stop_end]
            return Completion(tuple(tokens), self._decode(tokens), "stop")
        if eos_at is not None:
            tokens = generated[: eos_at + 1]
            return Completion(tuple(tokens), self._decode(tokens[:-1]), "stop")
        return Completion(tuple(generated), self._decode(generated), "length")

    def _stop_end(self, generated: list[int], stop: Sequence[str]) -> int | None:
        """Length of the shortest prefix of ``generated`` whose text contains a stop string (kept, as vLLM
        does with ``include_stop_str_in_output``), or None. Binary search: a longer prefix never
        contains less text."""
        if not generated or not any(s in self._decode(generated) for s in stop):
            return None
        low, high = 1, len(generated)
        while low < high:
            mid = (low + high) // 2
            if any(s in self._decode(generated[:mid]) for s in stop):
                high = mid
            else:
                low = mid + 1
        return low

    def _decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=False)
