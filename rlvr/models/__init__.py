"""Loading policies and tokenizers: hub names, local paths, run checkpoints, and the built-in tiny model.

Every model, the tiny one included, goes through ``from_pretrained``: the tiny model is first built and
warm-started into a cache directory (``rlvr.models.tiny``), then loaded from there like any other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import torch

from rlvr.models.tiny import CHAR_TOKENIZER_MARKER, ensure_tiny_model

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_model_path(model_cfg: Mapping[str, Any], cache_dir: str) -> str:
    """Where to load the policy from: ``model.name_or_path``, or the tiny model's cache entry."""
    if model_cfg.get("tiny"):
        return str(ensure_tiny_model(model_cfg["tiny"], model_cfg["prompt"], cache_dir))
    if not model_cfg.get("name_or_path"):
        raise ValueError("model config needs `name_or_path` (a hub name or a local path) or a `tiny` spec")
    return str(model_cfg["name_or_path"])


def torch_dtype(name: str) -> torch.dtype:
    try:
        return DTYPES[name]
    except KeyError:
        raise ValueError(f"unknown model.dtype {name!r}; available: {', '.join(DTYPES)}") from None


def load_tokenizer(path: str, *, trust_remote_code: bool = False):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    config_file = Path(path) / "tokenizer_config.json"
    if config_file.exists() and json.loads(config_file.read_text()).get(CHAR_TOKENIZER_MARKER) == "char":
        return PreTrainedTokenizerFast.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token_id is None:  # Llama 3 ships without one; padding is masked out anyway
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(path: str, *, dtype: str = "float32", trust_remote_code: bool = False, device: str | None = None):
    """A ``transformers`` causal LM. Under an active ``HfDeepSpeedConfig`` with ZeRO-3 the weights are
    partitioned across ranks while loading, so a 7B model never sits whole on one device."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype(dtype), trust_remote_code=trust_remote_code)
    return model.to(device) if device is not None else model
