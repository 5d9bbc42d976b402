"""From rollouts to tensors, and from tensors to per-token log-probs.

Layout (as in verl): prompts left-padded to width P, responses right-padded to width T, so every
response starts at column P and the logits that predict response tokens are one uniform slice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


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

    logits [..., V], targets [...] -> [...]
    """
    picked = torch.gather(logits, -1, targets.unsqueeze(-1)).squeeze(-1)  # [...]
    return picked - torch.logsumexp(logits, dim=-1)  # [...]


def token_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of the next-token distribution, logits [..., V] -> [...]: -sum p log p, from the log-softmax
    (``logsumexp - sum(p * logits)`` loses a few 1e-5 to cancellation at a 152k vocabulary)."""
    log_p = F.log_softmax(logits, -1)
    return -(log_p.exp() * log_p).sum(-1)


# Response tokens whose logits exist at once: 1,024 x Qwen2.5's 152k vocabulary is 0.6 GB in fp32
# (about three times that at the peak of the backward), against 1.8 GB per 3,072-token sequence unchunked.
DEFAULT_LOGPROB_CHUNK_TOKENS = 1024


def trim_padding(batch: TokenBatch) -> tuple[TokenBatch, int]:
    """``batch`` without the columns that are padding in every row (a micro-batch of short samples cut from a
    batch padded to its longest), and the response width it had. Positions are unchanged, so the log-probs
    are the same; only padding is no longer computed."""
    valid = batch.attention_mask.bool()  # [N, P+T]
    p, width_t = batch.prompt_width, batch.response_mask.shape[1]
    prompt_used = valid[:, :p].any(0)  # [P]
    first = int(prompt_used.float().argmax()) if bool(prompt_used.any()) else p  # left padding ends here
    last = int(batch.response_mask.sum(-1).max()) if len(batch) else 0  # longest response
    last = max(last, 1)
    columns = slice(first, p + last)
    trimmed = TokenBatch(batch.input_ids[:, columns], batch.attention_mask[:, columns],
                         batch.position_ids[:, columns], batch.response_mask[:, :last], p - first)  # fmt: skip
    return trimmed, width_t


def _chunk_logprobs(head, hidden: torch.Tensor, targets: torch.Tensor, temperature: float, with_entropy: bool,
                    entropy_grad: bool, calls: list[int]) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Log-probs (and entropies, else zeros) of ``targets`` [M] from final hidden states [M, H].

    ``calls`` counts the calls: a second one is the backward's recomputation, which needs only what has a
    gradient, so an entropy that is a metric only is not computed again (it saves nothing for the backward,
    so the recomputation stays what activation checkpointing expects)."""
    calls[0] += 1
    logits = head(hidden).float()  # [M, V]
    if temperature > 0:
        logits = logits / temperature
    logprobs = token_logprobs(logits, targets)
    if not with_entropy or (calls[0] > 1 and not entropy_grad):
        return logprobs, torch.zeros_like(logprobs)
    with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
        entropy = token_entropy(logits)
    return logprobs, entropy


def chunked_token_logprobs(
    head, hidden: torch.Tensor, targets: torch.Tensor, temperature: float, *, chunk_tokens: int,
    with_entropy: bool = False, entropy_grad: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Per-token log-probs and entropies [M] of ``targets`` [M] from hidden states [M, H], ``chunk_tokens``
    rows of logits at a time.

    Under autograd each chunk (when there is more than one) is recomputed in the backward (activation
    checkpointing) instead of keeping its [chunk, V] logits, so the extra memory is bounded by one chunk whatever the response length; the values
    and gradients are those of the unchunked computation.
    """
    if chunk_tokens < 1:
        raise ValueError(f"trainer.logprob_chunk_tokens={chunk_tokens} must be >= 1")
    parts = []
    # One chunk is within the bound as it is: recomputing it in the backward would only cost time.
    recompute = torch.is_grad_enabled() and hidden.requires_grad and hidden.shape[0] > chunk_tokens
    for start in range(0, hidden.shape[0], chunk_tokens):
        args = (head, hidden[start : start + chunk_tokens], targets[start : start + chunk_tokens], temperature,
                with_entropy, entropy_grad, [0])  # fmt: skip
        if recompute:
            parts.append(checkpoint(_chunk_logprobs, *args, use_reentrant=False))
        else:
            parts.append(_chunk_logprobs(*args))
    if not parts:
        empty = hidden.new_zeros(0, dtype=torch.float32)
        return empty, empty
    logprobs, entropies = zip(*parts)
    return torch.cat(logprobs), torch.cat(entropies)


def response_logprobs(
    model, batch: TokenBatch, temperature: float, *, with_entropy: bool = False, entropy_grad: bool = False,
    chunk_tokens: int = DEFAULT_LOGPROB_CHUNK_TOKENS,
):  # fmt: skip
    """Log-probs of the response tokens under ``model`` at sampling ``temperature``.

    Returns ``(logprobs [N, T], entropy [N, T] or None)``, 0 at padding. Dividing the logits by the
    temperature makes these the log-probs of the distribution the rollouts were actually sampled from. The
    entropy is a metric unless ``entropy_grad`` (an entropy bonus).

    Full-vocabulary logits are never materialised: the model runs without its output layer (``logits_to_keep``
    keeps none) and the output layer is applied to the response tokens only, ``chunk_tokens`` at a time
    (``chunked_token_logprobs``); columns that are padding in every row are not computed at all.
    """
    trimmed, width_t = trim_padding(batch)
    hf_model = getattr(model, "module", model)  # a DeepSpeed engine wraps the Hugging Face model
    out = model(
        input_ids=trimmed.input_ids,
        attention_mask=trimmed.attention_mask,
        position_ids=trimmed.position_ids,
        use_cache=False,
        output_hidden_states=True,
        logits_to_keep=torch.zeros(0, dtype=torch.long, device=trimmed.input_ids.device),  # no position
    )
    p = trimmed.prompt_width
    hidden = out.hidden_states[-1][:, p - 1 : -1, :]  # [N, T', H]: the final (normed) state at i predicts token i+1
    valid = trimmed.response_mask.bool()  # [N, T']
    logprobs, entropy = chunked_token_logprobs(
        hf_model.get_output_embeddings(), hidden[valid], trimmed.input_ids[:, p:][valid], temperature,
        chunk_tokens=chunk_tokens, with_entropy=with_entropy, entropy_grad=entropy_grad,
    )  # fmt: skip
    return _scatter(logprobs, valid, width_t), (_scatter(entropy, valid, width_t) if with_entropy else None)


def _scatter(values: torch.Tensor, valid: torch.Tensor, width: int) -> torch.Tensor:
    """[M] values of the ``valid`` [N, T'] positions -> [N, width], zeros elsewhere (differentiable)."""
    full = values.new_zeros(valid.shape).masked_scatter(valid, values)  # [N, T']
    return F.pad(full, (0, width - valid.shape[1]))
