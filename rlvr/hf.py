"""Loading transformers models and tokenizers: hub names, local paths, run checkpoints, the tiny model.

One place for what every loader needs (dtype names, Llama's missing pad token, our character
tokenizer's marker), used by the rollout engines, the DeepSpeed policy and the tiny model alike.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# Saved in tokenizer_config.json by the tiny model's character tokenizer (rlvr.models.tiny).
CHAR_TOKENIZER_MARKER = "rlvr_tokenizer"


def torch_dtype(name: str) -> torch.dtype:
    try:
        return DTYPES[name]
    except KeyError:
        raise ValueError(f"unknown model.dtype {name!r}; available: {', '.join(DTYPES)}") from None


def load_tokenizer(path: str, *, trust_remote_code: bool = False):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    config_file = Path(path) / "tokenizer_config.json"
    if config_file.exists() and json.loads(config_file.read_text()).get(CHAR_TOKENIZER_MARKER) == "char":
        # AutoTokenizer would rebuild a Qwen2 tokenizer from the model type and drop our pre-tokenizer.
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
