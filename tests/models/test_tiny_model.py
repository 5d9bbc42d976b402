from __future__ import annotations

import json

from conftest import compose_run
from rlvr.models import load_tokenizer
from rlvr.models.tiny import build_char_tokenizer, ensure_tiny_model


def test_char_tokenizer_round_trips_every_character_including_whitespace(tmp_path):
    tokenizer = build_char_tokenizer()
    text = "12 + 34\n= \\boxed{46}\tpython: print(1)"
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert len(ids) == len(text) and tokenizer.decode(ids) == text
    tokenizer.save_pretrained(tmp_path)
    # AutoTokenizer alone would rebuild a Qwen2 tokenizer and drop the whitespace tokens
    reloaded = load_tokenizer(str(tmp_path))
    assert reloaded.encode(text, add_special_tokens=False) == ids


def test_warm_started_model_is_qwen2_of_the_right_size_with_signal(tiny, tiny_path):
    model, _ = tiny
    assert model.config.model_type == "qwen2"
    assert 1e6 * 0.9 < sum(p.numel() for p in model.parameters()) < 3e6
    report = json.loads((tiny_path / "warmup.json").read_text())
    # Well above 0 and well below 1: GRPO needs both right and wrong answers in a group.
    assert 0.2 < report["heldout_accuracy"] < 0.9, report


def test_cache_is_reused(tiny_path):
    built_at = (tiny_path / "model.safetensors").stat().st_mtime_ns
    cfg = compose_run()
    again = ensure_tiny_model(cfg.model.tiny, cfg.model.prompt, cfg.paths.cache_dir)
    assert again == tiny_path and (tiny_path / "model.safetensors").stat().st_mtime_ns == built_at  # not rebuilt


def test_cache_key_follows_the_spec(tmp_path):
    from dataclasses import replace

    from rlvr.models.tiny import tiny_cache_key

    cfg = compose_run()
    spec = cfg.model.tiny
    changed = replace(spec, warmup=replace(spec.warmup, max_steps=spec.warmup.max_steps + 1))
    prompt = cfg.model.prompt
    assert tiny_cache_key(spec, prompt) == tiny_cache_key(spec, prompt)
    assert tiny_cache_key(spec, prompt) != tiny_cache_key(changed, prompt)
