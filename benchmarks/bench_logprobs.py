r"""Memory and time of response log-probs at Qwen2.5's vocabulary (151,936 tokens) and 3,072 response tokens.

Two ways to get the log-probs and entropies of one sequence's response tokens, forward and backward:

- ``full``: what the trainer did before: the model's logits for every position in fp32 ([T, V]: 1.8 GB at
  this size), their log-softmax at the response tokens, and the entropy from the same logits;
- ``chunked``: ``rlvr.train.batch.response_logprobs``: the model without its output layer, then the output
  layer ``--chunk`` response tokens at a time, each chunk recomputed in the backward.

Each way runs in a fresh process (so that one's freed memory cannot hide the other's peak), on a tiny model
of Qwen2's kind with the full vocabulary (the output layer is then nearly all of the cost, as in the real
models' log-prob pass), and reports the peak resident memory above what the process held before, sampled
every 2 ms, and the time of forward + backward. A third process checks that both give the same log-probs,
entropies and parameter gradients (largest absolute difference).

    python -m benchmarks.bench_logprobs                     # 3,072 tokens, chunks of 1,024
    python -m benchmarks.bench_logprobs --tokens 512 --chunk 128
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch

VOCAB = 151_936  # Qwen2.5
PROMPT_TOKENS = 64


def build(tokens: int, seed: int = 0):
    """A 2-layer Qwen2 with the full vocabulary, and one sequence: a prompt and ``tokens`` response tokens."""
    from transformers import AutoModelForCausalLM, Qwen2Config

    from rlvr.train.batch import make_token_batch

    torch.manual_seed(seed)
    config = Qwen2Config(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=PROMPT_TOKENS + tokens,
                         tie_word_embeddings=False)  # fmt: skip
    model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa").float().train()
    generator = torch.Generator().manual_seed(seed)
    prompt = torch.randint(3, VOCAB, (PROMPT_TOKENS,), generator=generator).tolist()
    response = torch.randint(3, VOCAB, (tokens,), generator=generator).tolist()
    return model, make_token_batch([prompt], [response], pad_id=0)


def full_logprobs(model, batch, temperature: float):
    """The unchunked computation: [N, T, V] fp32 logits, log-softmax at the targets, entropy."""
    out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, position_ids=batch.position_ids,
                use_cache=False)  # fmt: skip
    p = batch.prompt_width
    logits = out.logits[:, p - 1 : -1, :].float() / temperature  # [N, T, V]
    log_probs = torch.log_softmax(logits, -1)
    picked = log_probs.gather(-1, batch.input_ids[:, p:, None]).squeeze(-1)
    with torch.no_grad():
        entropy = -(log_probs.exp() * log_probs).sum(-1)
    return picked, entropy


def chunked_logprobs(model, batch, temperature: float, chunk: int):
    from rlvr.train.batch import response_logprobs

    return response_logprobs(model, batch, temperature, with_entropy=True, chunk_tokens=chunk)


def run(model, batch, way: str, chunk: int):
    """Forward and backward of one way; (log-probs, entropies) detached."""
    if way == "full":
        logprobs, entropy = full_logprobs(model, batch, 1.0)
    else:
        logprobs, entropy = chunked_logprobs(model, batch, 1.0, chunk)
    (logprobs * batch.response_mask).sum().backward()
    return logprobs.detach(), entropy.detach()


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


class PeakRss:
    """The largest resident set size seen while the block runs, sampled every 2 ms in a thread."""

    def __enter__(self):
        self.peak, self._stop = rss_bytes(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(0.002)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def measure(way: str, tokens: int, chunk: int, repeats: int) -> dict:
    """In this process: the extra peak memory and the median time of ``repeats`` forward+backward passes."""
    model, batch = build(tokens)
    run(model, build(8)[1], way, chunk)  # warm-up on a short sequence (kernels, allocator), little memory
    model.zero_grad(set_to_none=False)  # gradients allocated before the baseline: not the way's memory
    times, extra = [], 0
    for _ in range(repeats):
        before = rss_bytes()
        with PeakRss() as peak:
            started = time.perf_counter()
            run(model, batch, way, chunk)
            times.append(time.perf_counter() - started)
        extra = max(extra, peak.peak - before)
        model.zero_grad(set_to_none=False)
    return {"way": way, "extra_peak_bytes": extra, "seconds": statistics.median(times)}


def compare(tokens: int, chunk: int) -> dict:
    """Largest absolute differences between the two ways: log-probs, entropies, every parameter's gradient."""
    model, batch = build(tokens)
    full = run(model, batch, "full", chunk)
    full_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    chunked = run(model, batch, "chunked", chunk)
    mask = batch.response_mask.bool()
    grad_diff = max((p.grad - full_grads[n]).abs().max().item() for n, p in model.named_parameters())
    grad_scale = max(g.abs().max().item() for g in full_grads.values())
    return {
        "logprob_max_abs_diff": (full[0] - chunked[0])[mask].abs().max().item(),
        "entropy_max_abs_diff": (full[1] - chunked[1])[mask].abs().max().item(),
        "grad_max_abs_diff": grad_diff,
        "grad_max_abs": grad_scale,
    }


def in_subprocess(args: list[str]) -> dict:
    result = subprocess.run([sys.executable, "-m", "benchmarks.bench_logprobs", *args], capture_output=True,
                            text=True, cwd=Path(__file__).resolve().parents[1])  # fmt: skip
    if result.returncode:
        raise SystemExit(f"bench_logprobs {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=3072, help="response tokens of the sequence")
    parser.add_argument("--chunk", type=int, default=1024, help="trainer.logprob_chunk_tokens")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=["full", "chunked", "compare"], help=argparse.SUPPRESS)  # one subprocess
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    if args.only == "compare":
        print(json.dumps(compare(args.tokens, args.chunk)))
        return
    if args.only:
        print(json.dumps(measure(args.only, args.tokens, args.chunk, args.repeats)))
        return
    common = ["--tokens", str(args.tokens), "--chunk", str(args.chunk), "--repeats", str(args.repeats)]
    rows = [in_subprocess([*common, "--only", way]) for way in ("full", "chunked")]
    diffs = in_subprocess([*common, "--only", "compare"])
    print(f"log-probs of {args.tokens} response tokens, vocabulary {VOCAB:,}, forward + backward, "
          f"{torch.get_num_threads()} threads; chunks of {args.chunk}")  # fmt: skip
    print(f"  fp32 logits of the whole response would take {args.tokens * VOCAB * 4 / 2**30:.2f} GiB")
    for row in rows:
        print(f"  {row['way']:>8}: extra peak memory {row['extra_peak_bytes'] / 2**30:6.2f} GiB, "
              f"{row['seconds']:6.2f} s")  # fmt: skip
    full, chunked = rows
    print(f"  memory ratio full/chunked {full['extra_peak_bytes'] / max(chunked['extra_peak_bytes'], 1):.1f}x, "
          f"time ratio {full['seconds'] / chunked['seconds']:.2f}x")  # fmt: skip
    print(f"  max |difference|: log-probs {diffs['logprob_max_abs_diff']:.2e}, entropies "
          f"{diffs['entropy_max_abs_diff']:.2e}, gradients {diffs['grad_max_abs_diff']:.2e} "
          f"(largest gradient {diffs['grad_max_abs']:.2e}: relative "
          f"{diffs['grad_max_abs_diff'] / diffs['grad_max_abs']:.1e})")  # fmt: skip


if __name__ == "__main__":
    main()
