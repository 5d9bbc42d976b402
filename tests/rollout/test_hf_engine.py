"""The HF rollout engine: grouping, greedy determinism, seeds, finish reasons and weight loading."""

from __future__ import annotations

import copy

import pytest
import torch

from rlvr.rollout import HFEngine, SamplingParams


@pytest.fixture
def engine(tiny):
    model, tokenizer = tiny
    return HFEngine(copy.deepcopy(model), tokenizer, max_batch_size=5)


def encode(engine, *texts):
    return [engine.tokenizer.encode(t) for t in texts]


def test_n_completions_per_prompt_in_prompt_order(engine):
    out = engine.generate(encode(engine, "1+2=", "33+44="), SamplingParams(n=3, max_new_tokens=20, seed=0))
    assert [len(group) for group in out] == [3, 3]


def test_greedy_is_deterministic_and_batch_independent(engine):
    prompts = encode(engine, "1+2=", "33+44=", "7+80=")
    greedy = SamplingParams(n=1, temperature=0.0, max_new_tokens=20)
    together = [g[0].text for g in engine.generate(prompts, greedy)]
    alone = [engine.generate([p], greedy)[0][0].text for p in prompts]
    assert together == alone


def test_same_seed_same_samples(engine):
    params = SamplingParams(n=4, temperature=1.0, max_new_tokens=20, seed=123)
    first = engine.generate(encode(engine, "12+3="), params)
    assert first == engine.generate(encode(engine, "12+3="), params)


def test_finish_reasons_and_eos(engine):
    eos = engine.tokenizer.eos_token_id
    finished = engine.generate(encode(engine, "1+2="), SamplingParams(temperature=0.0, max_new_tokens=30))[0][0]
    assert finished.finish_reason == "stop" and finished.token_ids[-1] == eos
    assert engine.tokenizer.decode(list(finished.token_ids[:-1])) == finished.text
    cut = engine.generate(encode(engine, "1+2="), SamplingParams(temperature=0.0, max_new_tokens=3))[0][0]
    assert cut.finish_reason == "length" and len(cut.token_ids) == 3 and eos not in cut.token_ids


def test_load_weights_replaces_the_policy(engine):
    prompts, greedy = encode(engine, "1+2=", "45+45="), SamplingParams(temperature=0.0, max_new_tokens=12)
    before = engine.generate(prompts, greedy)
    zeroed = [(name, torch.zeros_like(p)) for name, p in engine.model.named_parameters()]
    engine.load_weights(zeroed)
    assert all(float(p.detach().abs().sum()) == 0 for p in engine.model.parameters())
    assert engine.generate(prompts, greedy) != before
    with pytest.raises(KeyError, match="no parameter"):
        engine.load_weights([("not.a.param", torch.zeros(1))])


def test_stop_string_ends_a_response_kept_in_its_text_with_no_padding_after(engine):
    # The R1 template stops at "</answer>"; here "}" plays that part: "1+2=" -> "\boxed{3}" stops a token
    # before "45+45=" -> "\boxed{90}", so generate pads the first row while the second finishes.
    pad = engine.tokenizer.pad_token_id
    params = SamplingParams(temperature=0.0, max_new_tokens=30, stop=("}",))
    out = engine.generate(encode(engine, "1+2=", "45+45="), params)
    assert len(out[0][0].token_ids) < len(out[1][0].token_ids)
    for (completion,) in out:
        assert completion.finish_reason == "stop" and completion.text.endswith("}"), completion
        assert pad not in completion.token_ids
        assert engine.tokenizer.decode(list(completion.token_ids)) == completion.text


def test_only_sampled_tokens_come_back_when_the_pad_id_is_an_eos_id(engine):
    # Llama 3 pads with its EOS: a row that stopped on a stop string is followed by EOS ids it never sampled.
    # They must not come back (they would be trained on), just as vLLM returns only what was sampled.
    eos = engine.tokenizer.eos_token_id
    engine.pad_id = eos
    params = SamplingParams(temperature=0.0, max_new_tokens=30, stop=("}",))
    short, long = engine.generate(encode(engine, "1+2=", "45+45="), params)
    assert len(short[0].token_ids) < len(long[0].token_ids)  # the first row was padded while the second ran on
    for (completion,) in (short, long):
        assert completion.finish_reason == "stop" and completion.text.endswith("}")
        assert eos not in completion.token_ids, completion
        assert engine.tokenizer.decode(list(completion.token_ids)) == completion.text
    # an EOS the model sampled is returned, once, and ends the response
    [(sampled,)] = engine.generate(encode(engine, "1+2="), SamplingParams(temperature=0.0, max_new_tokens=30))
    assert sampled.token_ids.count(eos) == 1 and sampled.token_ids[-1] == eos and sampled.finish_reason == "stop"
