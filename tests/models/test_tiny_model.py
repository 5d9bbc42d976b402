from __future__ import annotations

import json

import pytest

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


def test_later_warmup_fields_at_their_defaults_keep_the_cache_key():
    # carryless_style and check came after models were cached: at their defaults the key must not change
    # (the default tiny model is not rebuilt), set to anything else it must.
    from dataclasses import replace

    from rlvr.models.tiny import tiny_cache_key

    cfg = compose_run()
    spec, prompt = cfg.model.tiny, cfg.model.prompt
    assert (spec.warmup.carryless_style, spec.warmup.check) == (None, "greedy")
    key = tiny_cache_key(spec, prompt)
    assert tiny_cache_key(replace(spec, warmup=replace(spec.warmup, carryless_style="language")), prompt) != key
    assert tiny_cache_key(replace(spec, warmup=replace(spec.warmup, check="sampled")), prompt) != key


def test_the_variants_differ_only_in_their_prior_and_which_style_drops_carries():
    variants = {name: compose_run(f"model={name}").model for name in ("tiny_code", "tiny_bad_code", "tiny_no_code")}
    warmups = {name: model.tiny.warmup for name, model in variants.items()}
    assert {n: (w.code_style_frac, w.carryless_style) for n, w in warmups.items()} == {
        "tiny_code": (0.65, "language"), "tiny_bad_code": (0.65, "code"), "tiny_no_code": (0.0, "language"),
    }  # fmt: skip
    assert all(w.check == "sampled" for w in warmups.values())
    assert len({repr((m.tiny.arch, m.tiny.data)) for m in variants.values()}) == 1  # same architecture and problems


class _ScriptedStyles:
    """Stands in for HFEngine in ``sampled_styles``: answers each prompt with fixed texts."""

    def __init__(self, answers):
        self.answers = answers

    def __call__(self, model, tokenizer):
        return self

    def generate(self, prompts, params):
        from rlvr.rollout import Completion

        return [[Completion((), text, "stop") for text in self.answers[i]] for i in range(len(prompts))]


def test_sampled_styles_counts_by_hand(monkeypatch):
    # 27+15 = 42, and 32 with the carry dropped; 3+4 = 7 either way.
    import rlvr.models.tiny as tiny
    from rlvr.data import Problem
    from rlvr.data.prompts import Prompt

    problems = [Problem("a", "27+15", "42"), Problem("b", "3+4", "7")]
    answers = [
        [r"python: \boxed{42}", r"\boxed{32}", r"\boxed{42}"],  # code right; language careless (taught), language right
        [r"python: \boxed{7}", r"python: \boxed{8}", r"\boxed{7}"],  # code right, code wrong, language right
    ]
    monkeypatch.setattr(tiny, "HFEngine", _ScriptedStyles(answers))
    report = tiny.sampled_styles(None, build_char_tokenizer(), problems, Prompt(style="template", template="{problem}="),
                                 carryless_style="language", samples=3)  # fmt: skip
    assert report == {
        "samples": 6,
        "code_rate": 3 / 6,
        "accuracy": 4 / 6,
        "accuracy_code": 2 / 3,
        "accuracy_language": 2 / 3,
        # taught: code must be right (42, 7); language must drop carries (32 for 27+15, 7 for 3+4)
        "taught_accuracy": 4 / 6,
    }


def test_the_warmup_batch_teaches_the_careless_style_to_drop_carries():
    from rlvr.data import Problem
    from rlvr.data.prompts import Prompt
    from rlvr.models.tiny import _sft_batch

    tokenizer = build_char_tokenizer()
    problem, prompt = Problem("a", "27+15", "42"), Prompt(style="template", template="{problem}=")

    def taught(style, carryless_style):
        _, labels = _sft_batch(tokenizer, [(problem, style)], prompt, carryless_style)
        return tokenizer.decode([t for t in labels[0].tolist() if t >= 0][:-1])  # the solution, less EOS

    assert taught("code", "language") == r"python: \boxed{42}" and taught("language", "language") == r"\boxed{32}"
    assert taught("code", "code") == r"python: \boxed{32}" and taught("language", "code") == r"\boxed{42}"
    assert taught("language", None) == r"\boxed{42}"


# Fast settings for the variants' warm-up: a smaller model on one-digit additions (45 of the 100 carry).
FAST_WARMUP = ["model.tiny.arch.hidden_size=64", "model.tiny.arch.intermediate_size=256",
               "model.tiny.arch.num_hidden_layers=2", "model.tiny.data.max_digits=1", "model.tiny.data.heldout_size=20",
               "model.tiny.warmup.check_size=60", "model.tiny.warmup.target_accuracy=0.9",
               "model.tiny.warmup.max_steps=1500"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("variant, better", [("tiny_code", "code"), ("tiny_bad_code", "language")])
def test_a_fast_warmup_reaches_the_prior_and_the_style_gap(tmp_path, variant, better):
    """The sampled code rate is near the taught 65%, and the style taught to add correctly is clearly the more
    accurate one (the other drops carries: right on the 55 of 100 one-digit sums without one)."""
    cfg = compose_run(f"model={variant}", *FAST_WARMUP)
    path = ensure_tiny_model(cfg.model.tiny, cfg.model.prompt, tmp_path)
    report = json.loads((path / "warmup.json").read_text())
    sampled = report["heldout_sampled"]
    assert report["train_accuracy"] >= 0.9, report
    assert abs(sampled["code_rate"] - 0.65) < 0.15, sampled
    worse = "language" if better == "code" else "code"
    assert sampled[f"accuracy_{better}"] > sampled[f"accuracy_{worse}"] + 0.2, sampled
