"""From rollouts to tensors, and from tensors to per-token log-probs.

Layout (as in verl): prompts left-padded to width P, responses right-padded to width T, so every
response starts at column P and the logits that predict response tokens are one uniform slice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class TokenBatch:
    input_ids: torch.Tensor  # [N, P+T] long
    attention_mask: torch.Tensor  # [N, P+T] long
    position_ids: torch.Tensor  # [N, P+T] long
    response_mask: torch.Tensor  # [N, T] float, 1 on response tokens (EOS included)
    prompt_width: int  # P

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def select(self, index: torch.Tensor | slice) -> "TokenBatch":
        return TokenBatch(
            self.input_ids[index],
            self.attention_mask[index],
            self.position_ids[index],
            self.response_mask[index],
            self.prompt_width,
        )

    def to(self, device: torch.device) -> "TokenBatch":
        return TokenBatch(
            self.input_ids.to(device),
            self.attention_mask.to(device),
            self.position_ids.to(device),
            self.response_mask.to(device),
            self.prompt_width,
        )


def make_token_batch(prompts: Sequence[Sequence[int]], responses: Sequence[Sequence[int]], pad_id: int) -> TokenBatch:
    """Pack (prompt, response) token lists into one ``TokenBatch``."""
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    width_p = max(len(p) for p in prompts)
    width_t = max(1, max(len(r) for r in responses))
    rows, masks, resp_masks = [], [], []
    for prompt, response in zip(prompts, responses):
        left, right = width_p - len(prompt), width_t - len(response)
        rows.append([pad_id] * left + list(prompt) + list(response) + [pad_id] * right)
        masks.append([0] * left + [1] * (len(prompt) + len(response)) + [0] * right)
        resp_masks.append([1.0] * len(response) + [0.0] * right)
    attention_mask = torch.tensor(masks)
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)  # left padding must not shift positions
    return TokenBatch(torch.tensor(rows), attention_mask, position_ids, torch.tensor(resp_masks), width_p)


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[target] per position, without materialising the full [.., V] log-softmax.

    logits [N, T, V], targets [N, T] -> [N, T]
    """
    picked = torch.gather(logits, -1, targets.unsqueeze(-1)).squeeze(-1)  # [N, T]
    return picked - torch.logsumexp(logits, dim=-1)  # [N, T]


def token_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of the next-token distribution, logits [N, T, V] -> [N, T]."""
    return torch.logsumexp(logits, -1) - (F.softmax(logits, -1) * logits).sum(-1)


def response_logprobs(
    model, batch: TokenBatch, temperature: float, *, with_entropy: bool = False, entropy_grad: bool = False
):
    """Log-probs of the response tokens under ``model`` at sampling ``temperature``.

    Returns ``(logprobs [N, T], entropy [N, T] or None)``. Dividing the logits by the temperature makes
    these the log-probs of the distribution the rollouts were actually sampled from. The entropy is a
    metric unless ``entropy_grad`` (an entropy bonus), which costs a second [N, T, V] graph.
    """
    out = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
        use_cache=False,
    )
    p = batch.prompt_width
    logits = out.logits[:, p - 1 : -1, :].float()  # [N, T, V]: position i predicts token i+1
    if temperature > 0:
        logits = logits / temperature
    targets = batch.input_ids[:, p:]  # [N, T]
    logprobs = token_logprobs(logits, targets)
    entropy = None
    if with_entropy:
        with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
            entropy = token_entropy(logits)
    return logprobs, entropy
