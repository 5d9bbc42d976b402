"""Chunked response log-probs against the plain computation: full-vocabulary logits, ``log_softmax``, gather.

The reference below is written independently of ``rlvr.train.batch``: the model's own logits for every
position, divided by the temperature, their log-softmax at the response tokens, and the entropy as
``-(p * log p).sum()``. Values, entropies and the gradients of every parameter must agree.
"""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig, Olmo2Config, Qwen2Config

from rlvr.train.batch import TokenBatch, chunked_token_logprobs, make_token_batch, response_logprobs, trim_padding

PAD = 0
SHAPE = dict(vocab_size=997, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=64)  # fmt: skip
CONFIGS = {
    "qwen2_tied": lambda: Qwen2Config(**SHAPE, tie_word_embeddings=True),
    "llama": lambda: LlamaConfig(**SHAPE, tie_word_embeddings=False),
    "olmo2": lambda: Olmo2Config(**SHAPE, tie_word_embeddings=False),
}
PROMPTS = [[5, 6, 7, 8], [9], [10, 11], [12, 13, 14]]
RESPONSES = [[20, 21], [22, 23, 24, 25, 26], [27], [28, 29, 30]]


def build(name: str):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(CONFIGS[name](), attn_implementation="eager")
    return model.float().train()


def reference(model, batch: TokenBatch, temperature: float):
    """Log-probs and entropies [N, T] (0 at padding) from the model's full logits."""
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, position_ids=batch.position_ids,
                   use_cache=False).logits.float()  # fmt: skip
    p = batch.prompt_width
    log_probs = torch.log_softmax(logits[:, p - 1 : -1] / temperature, dim=-1)  # [N, T, V]
    picked = log_probs.gather(-1, batch.input_ids[:, p:, None]).squeeze(-1)
    entropy = -(log_probs.exp() * log_probs).sum(-1)
    mask = batch.response_mask
    return picked * mask, entropy * mask


def loss_of(logprobs, entropy, mask):
    weights = torch.linspace(-1.0, 2.0, logprobs.numel()).view_as(logprobs)  # every token counts differently
    return (logprobs * weights * mask).sum() + 0.3 * (entropy * mask).sum()


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("chunk_tokens", [1, 4, 10_000])
def test_chunked_logprobs_entropies_and_gradients_match_the_full_logits(name, chunk_tokens):
    batch = make_token_batch(PROMPTS, RESPONSES, pad_id=PAD)
    model = build(name)
    expected_lp, expected_ent = reference(model, batch, temperature=0.7)
    loss_of(expected_lp, expected_ent, batch.response_mask).backward()
    expected_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()

    logprobs, entropy = response_logprobs(model, batch, 0.7, with_entropy=True, entropy_grad=True,
                                          chunk_tokens=chunk_tokens)  # fmt: skip
    assert logprobs.shape == entropy.shape == batch.response_mask.shape
    torch.testing.assert_close(logprobs, expected_lp, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(entropy, expected_ent, atol=1e-5, rtol=1e-5)
    loss_of(logprobs, entropy, batch.response_mask).backward()
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, expected_grads[n], atol=1e-5, rtol=1e-4, msg=lambda m: f"{n}: {m}")


def test_entropy_without_its_gradient_leaves_the_logprob_gradient_alone():
    batch = make_token_batch(PROMPTS, RESPONSES, pad_id=PAD)
    model = build("qwen2_tied")
    expected_lp, _ = reference(model, batch, temperature=1.0)
    (expected_lp * batch.response_mask).sum().backward()
    expected = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    logprobs, entropy = response_logprobs(model, batch, 1.0, with_entropy=True, entropy_grad=False, chunk_tokens=3)
    assert not entropy.requires_grad
    (logprobs * batch.response_mask).sum().backward()
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, expected[n], atol=1e-5, rtol=1e-4)


def test_without_autograd_the_values_are_the_same():
    batch = make_token_batch(PROMPTS, RESPONSES, pad_id=PAD)
    model = build("llama")
    with torch.no_grad():
        expected, _ = reference(model, batch, temperature=0.5)
        logprobs, entropy = response_logprobs(model, batch, 0.5, chunk_tokens=2)
    assert entropy is None and not logprobs.requires_grad
    torch.testing.assert_close(logprobs, expected, atol=1e-5, rtol=1e-5)


def test_a_micro_batch_of_short_samples_is_computed_without_the_columns_only_others_needed():
    batch = make_token_batch(PROMPTS, RESPONSES, pad_id=PAD)  # P = 4, T = 5
    short = batch.select(torch.tensor([2, 0]))  # prompts of 2 and 4 tokens, responses of 1 and 2
    trimmed, width = trim_padding(short)
    assert width == 5 and trimmed.prompt_width == 4
    assert trimmed.input_ids.tolist() == [[PAD, PAD, 10, 11, 27, PAD], [5, 6, 7, 8, 20, 21]]
    assert trimmed.response_mask.tolist() == [[1, 0], [1, 1]]
    both_short = batch.select(torch.tensor([1, 2]))  # prompts of 1 and 2 tokens: two columns of left padding go
    trimmed, _ = trim_padding(both_short)
    assert trimmed.prompt_width == 2
    assert trimmed.input_ids.tolist() == [[PAD, 9, 22, 23, 24, 25, 26], [10, 11, 27, PAD, PAD, PAD, PAD]]
    assert trimmed.position_ids.tolist() == [[0, 0, 1, 2, 3, 4, 5], [0, 1, 2, 2, 2, 2, 2]]  # padding repeats the last position


def test_chunk_size_must_be_positive():
    with pytest.raises(ValueError, match="logprob_chunk_tokens=0"):
        chunked_token_logprobs(torch.nn.Identity(), torch.zeros(3, 4), torch.zeros(3, dtype=torch.long), 1.0,
                               chunk_tokens=0)  # fmt: skip
