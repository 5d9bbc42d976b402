"""Rollout engines behind one interface (see ``rlvr.rollout.base``)."""

from __future__ import annotations

from typing import Any

from rlvr.config import EngineConfig
from rlvr.rollout.base import Completion, RolloutEngine, SamplingParams
from rlvr.rollout.hf import HFEngine

__all__ = ["Completion", "HFEngine", "RolloutEngine", "SamplingParams", "build_engine"]


def build_engine(
    engine: EngineConfig,
    model_path: str,
    tokenizer: Any,
    *,
    dtype: str = "float32",
    trust_remote_code: bool = False,
    device: str | None = None,
) -> RolloutEngine:
    """The ``engine`` config's engine for the model at ``model_path``.

    Every engine config's ``_target_`` takes the same arguments (``HFEngine.from_pretrained``, and the
    vLLM engine's), so that the trainer, the labeller and the evaluator never ask which engine they run.
    """
    from hydra.utils import instantiate

    return instantiate(
        engine,
        model_path=model_path,
        tokenizer=tokenizer,
        dtype=dtype,
        trust_remote_code=trust_remote_code,
        device=device,
        _convert_="all",
    )
