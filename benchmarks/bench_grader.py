r"""Grader throughput on batches shaped like one GRPO step: 64 prompts x 16 samples.

Samples of one prompt mostly agree, as a trained policy's do, so most (answer, gold) pairs repeat;
a few responses have no box (math-verify reads the whole text) or are cut inside their box.

    python benchmarks/bench_grader.py --workers 4 --batches 5
"""

from __future__ import annotations

import argparse
import random
import time

from rlvr.rewards import GraderPool, grade_responses

GOLDS = [
    r"\frac{1}{2}", "70", r"3\sqrt{2}", r"\frac{\pi}{4}", r"(1, 2)", r"\{-1, 3\}", r"[0, \infty)",
    r"x^2 + 2x + 1", r"\text{(C)}", "12", "0.25", r"2 + \sqrt{3}", r"\frac{7}{9}", "-4", r"10\%", r"\$18.90",
]  # fmt: skip
# Ways to write the gold answer (right) and near misses (wrong), as a policy would.
RIGHT = {
    r"\frac{1}{2}": [r"\frac{1}{2}", r"\dfrac{1}{2}", "0.5", "1/2"],
    "70": ["70", "070", "70.0"],
    r"3\sqrt{2}": [r"3\sqrt{2}", r"\sqrt{18}", r"3 \sqrt 2"],
    r"\frac{\pi}{4}": [r"\frac{\pi}{4}", r"\pi/4", r"\dfrac{\pi}{4}"],
    r"x^2 + 2x + 1": [r"(x+1)^2", r"x^2+2x+1"],
    "0.25": [r"\frac14", "0.25", r"\frac{1}{4}"],
}
WRONG = [r"\frac{1}{3}", "71", r"2\sqrt{3}", r"\frac{\pi}{2}", "(2, 1)", r"\{1, 3\}", r"(0, \infty)", "13", "-3"]


def response_for(gold: str, rng: random.Random) -> str:
    answer = rng.choice(RIGHT.get(gold, [gold])) if rng.random() < 0.6 else rng.choice(WRONG)
    reasoning = "Let me think step by step. " + " ".join(f"Step {i}: compute ${i} + {i} = {2 * i}$." for i in range(8))
    roll = rng.random()
    if roll < 0.05:
        return f"{reasoning} So the answer is {answer}"  # no box: fallback extraction
    if roll < 0.08:
        return f"{reasoning} So the answer is \\boxed{{{answer}"  # truncated
    return f"{reasoning} Therefore, the final answer is $\\boxed{{{answer}}}$."


def grpo_batch(step: int, num_prompts: int, group_size: int) -> tuple[list[str], list[str]]:
    rng = random.Random(step)
    golds = [rng.choice(GOLDS) for _ in range(num_prompts)]
    responses, answers = [], []
    for gold in golds:
        # A group's samples are drawn from a few distinct answers, like a policy that mostly agrees with itself.
        modes = [response_for(gold, rng) for _ in range(3)]
        for _ in range(group_size):
            responses.append(rng.choice(modes) if rng.random() < 0.8 else response_for(gold, rng))
            answers.append(gold)
    return responses, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--group-size", type=int, default=16)
    args = parser.parse_args()

    with GraderPool(num_workers=args.workers, timeout_s=args.timeout) as pool:
        for step in range(args.batches):
            responses, answers = grpo_batch(step, args.prompts, args.group_size)
            before = pool.counts.copy()
            started = time.perf_counter()
            result = grade_responses(responses, answers, pool=pool)
            wall = time.perf_counter() - started
            counts = pool.counts - before
            note = " (includes starting the workers)" if step == 0 else ""
            print(
                f"batch {step}: {len(responses)} responses in {wall:.2f} s "
                f"= {len(responses) / wall:,.0f} responses/s{note}; "
                f"{counts['distinct']} distinct, {counts['fast']} without a worker, {counts['sent']} sent, "
                f"{counts['timeouts']} timeouts; accuracy {sum(result.correct) / len(responses):.2f}"
            )


if __name__ == "__main__":
    main()
