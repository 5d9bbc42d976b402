"""Which weights a run starts from: a hub name or local path, or the built-in tiny model.

Every model, the tiny one included, goes through ``from_pretrained`` (``rlvr.hf``): the tiny model is
first built and warm-started into a cache directory (``rlvr.models.tiny``), then loaded from there like
any other.
"""

from __future__ import annotations

from rlvr.config import ModelConfig
from rlvr.hf import load_causal_lm, load_tokenizer, torch_dtype
from rlvr.models.tiny import ensure_tiny_model

__all__ = ["ensure_tiny_model", "load_causal_lm", "load_tokenizer", "resolve_model_path", "torch_dtype"]


def resolve_model_path(model: ModelConfig, cache_dir: str) -> str:
    """Where to load the policy from: ``model.name_or_path``, or the tiny model's cache entry."""
    if model.tiny is not None:
        return str(ensure_tiny_model(model.tiny, model.prompt, cache_dir))
    if not model.name_or_path:
        raise ValueError(f"model {model.name!r} needs `name_or_path` (a hub name or a local path) or a `tiny` spec")
    return str(model.name_or_path)
