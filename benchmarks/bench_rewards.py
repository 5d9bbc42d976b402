r"""Throughput of the string rewards on long responses: a batch of 1024 at about 12k characters each.

Most responses are ordinary math reasoning (LaTeX, numbers, some repeated phrases, as a policy writes
them); a few loop on one sentence at the end, which ``no_repetition`` must catch. The ground-truth
reward is left out: its cost is the grader's (``bench_grader.py``).

    python -m benchmarks.bench_rewards --responses 1024 --chars 12000
"""

from __future__ import annotations

import argparse
import random
import time

from rlvr.rewards import build_reward

PHRASES = [
    "Let me think step by step.", "First, we compute", "Therefore,", "Substituting back,", "so that",
    r"$x^2 + 2x + 1 = (x + 1)^2$", r"$\frac{1}{2} \cdot 12.8 = 6.4$", r"\sqrt{18} = 3\sqrt{2}", "we get",
    "Wait, let me double-check this.", "which simplifies to", r"$\binom{10}{3} = 120$", "Hence the sum is",
    "Now consider the case", r"$a_n = a_{n-1} + 2n$", "Adding the two equations,", "the remainder is 70.",
]  # fmt: skip


def response(rng: random.Random, chars: int, loops: bool) -> str:
    words: list[str] = []
    length = 0
    while length < chars:
        words.append(rng.choice(PHRASES) if rng.random() < 0.7 else str(rng.randint(0, 10_000)))
        length += len(words[-1]) + 1
    text = " ".join(words)[:chars]
    if loops:  # the last quarter is one sentence over and over
        sentence = f"Let me recompute step {rng.randint(1, 9)} again. "
        text = text[: 3 * chars // 4] + sentence * (chars // 4 // len(sentence) + 1)
    return text[:chars] + r" So the answer is \boxed{12.8}."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--responses", type=int, default=1024)
    parser.add_argument("--chars", type=int, default=12_000)
    parser.add_argument("--loop-rate", type=float, default=0.05, help="fraction of responses that loop")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes; the best is printed")
    args = parser.parse_args()

    rng = random.Random(0)
    responses = [response(rng, args.chars, rng.random() < args.loop_rate) for _ in range(args.responses)]
    answers = ["12.8"] * len(responses)
    context = {
        "seed": 0, "step": 0, "prompt_ids": list(range(len(responses))), "sample_indices": [0] * len(responses),
    }  # fmt: skip
    print(f"{len(responses)} responses of {args.chars:,} characters")
    for name in ["no_repetition", "format", "python"]:
        reward = build_reward(name)
        best = float("inf")
        for _ in range(args.repeats):
            started = time.perf_counter()
            values = reward(responses, answers, **context)
            best = min(best, time.perf_counter() - started)
        print(
            f"{name:>14}: {len(responses) / best:>9,.0f} responses/s ({best * 1e3:,.0f} ms per batch); "
            f"mean reward {sum(values) / len(values):.3f}"
        )


if __name__ == "__main__":
    main()
