"""Padding layout and log-probs: a padded batch must give each sample the log-probs it has alone."""

from __future__ import annotations

import torch

from rlvr.train.batch import make_token_batch, response_logprobs, token_entropy, token_logprobs

PAD = 0


def test_layout_left_pads_prompts_and_right_pads_responses():
    batch = make_token_batch([[5, 6, 7], [8]], [[9], [10, 11, 12]], pad_id=PAD)
    assert batch.prompt_width == 3
    assert batch.input_ids.tolist() == [[5, 6, 7, 9, PAD, PAD], [PAD, PAD, 8, 10, 11, 12]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1]]
    assert batch.position_ids.tolist() == [[0, 1, 2, 3, 3, 3], [0, 0, 0, 1, 2, 3]]
    assert batch.response_mask.tolist() == [[1, 0, 0], [1, 1, 1]]


def test_token_logprobs_matches_log_softmax():
    logits = torch.randn(2, 3, 7, generator=torch.Generator().manual_seed(0))
    targets = torch.tensor([[1, 2, 3], [6, 0, 4]])
    expected = torch.log_softmax(logits, -1).gather(-1, targets[..., None]).squeeze(-1)
    torch.testing.assert_close(token_logprobs(logits, targets), expected)


def test_entropy_of_uniform_is_log_v():
    assert torch.allclose(token_entropy(torch.zeros(1, 2, 8)), torch.full((1, 2), torch.log(torch.tensor(8.0))))


def test_padded_batch_gives_each_sample_its_unpadded_logprobs(tiny):
    model, _ = tiny
    prompts, responses = [[10, 11, 12, 13], [14, 15]], [[20, 21], [22, 23, 24, 25]]
    batch = make_token_batch(prompts, responses, pad_id=PAD)
    temperature = 0.7
    with torch.no_grad():
        padded, _ = response_logprobs(model, batch, temperature)
        for i, (p, r) in enumerate(zip(prompts, responses)):
            alone = torch.tensor([p + r])
            logits = model(input_ids=alone).logits[0, len(p) - 1 : -1] / temperature  # predicts r
            expected = torch.log_softmax(logits, -1)[torch.arange(len(r)), torch.tensor(r)]
            torch.testing.assert_close(padded[i, : len(r)], expected, atol=1e-5, rtol=1e-5)
