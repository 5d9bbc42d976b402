"""Rollout engines behind one interface (see ``rlvr.rollout.base``)."""

from __future__ import annotations

from typing import Any, Mapping

from rlvr.rollout.base import Completion, RolloutEngine, SamplingParams
from rlvr.rollout.hf import HFEngine

__all__ = ["Completion", "HFEngine", "RolloutEngine", "SamplingParams", "build_engine", "load_engine"]


def build_engine(
    engine_cfg: Mapping[str, Any],
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
        engine_cfg,
        model_path=model_path,
        tokenizer=tokenizer,
        dtype=dtype,
        trust_remote_code=trust_remote_code,
        device=device,
    )


def load_engine(cfg: Mapping[str, Any], model_path: str, device: str) -> tuple[Any, RolloutEngine]:
    """The tokenizer at ``model_path`` and the run config's engine for it (the model config's dtype and
    ``trust_remote_code``): what the trainer, the labeller and the evaluator all start from."""
    from rlvr.models import load_tokenizer

    trust = bool(cfg["model"]["trust_remote_code"])
    tokenizer = load_tokenizer(model_path, trust_remote_code=trust)
    engine = build_engine(
        cfg["engine"], model_path, tokenizer, dtype=cfg["model"]["dtype"], trust_remote_code=trust, device=str(device)
    )
    return tokenizer, engine
