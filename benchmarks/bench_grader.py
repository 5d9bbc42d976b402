r"""Grader throughput on batches shaped like one GRPO step: 64 prompts x 16 samples = 1,024 responses.

Each prompt has a gold answer of the kinds MATH-500 has (mostly integers, then fractions, roots,
multiples of pi, tuples, intervals, answer sets, choice letters, degrees, percentages, money,
polynomials, AMC-style "142.0"), drawn with fresh random values at every step, so a "cold" step
grades answers that neither the pool's verdict cache nor the workers' parse caches have seen.
Samples of one prompt mostly agree, as a trained policy's do: a group draws from a few answers, right
ones written as the policy would write them (``\dfrac``, ``x = ...``, degrees, units) and near misses.
A few responses have no box (math-verify reads the whole text) or are cut inside their box.

A "warm" step grades the same batch again, as the trainer does right after the reward (its
ground-truth accuracy metric): every verdict comes from the pool's cache. The target is a cold step
under 1 s on a 2-core machine with the default 2 workers.

From the repository root (``rlvr`` is imported from there, not installed):

    python -m benchmarks.bench_grader --workers 2 --steps 5
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Callable

from rlvr.rewards import GraderPool, grade_responses

Answers = tuple[str, list[str], list[str]]  # gold, right ways to write it, near misses


def _integer(rng: random.Random) -> Answers:
    n = rng.randint(0, 999)
    near = [str(n + rng.choice([-2, -1, 1, 2, 10])), str(n * 10), str(rng.randint(0, 999))]
    return str(n), [str(n), f"x = {n}", f"{n:03d}"], near


def _fraction(rng: random.Random) -> Answers:
    a, b = rng.randint(1, 97), rng.randint(2, 98)
    gold = rf"\frac{{{a}}}{{{b}}}"
    return gold, [gold, rf"\dfrac{{{a}}}{{{b}}}", f"{a}/{b}", rf"\frac{{{2 * a}}}{{{2 * b}}}"], [
        rf"\frac{{{b}}}{{{a}}}",
        rf"\frac{{{a + 1}}}{{{b}}}",
        rf"\frac{{{a}}}{{{b + 1}}}",
    ]


def _root(rng: random.Random) -> Answers:
    a, b = rng.randint(2, 30), rng.choice([2, 3, 5, 6, 7, 10, 11, 13])
    gold = rf"{a}\sqrt{{{b}}}"
    right = [gold, rf"{a} \sqrt{b}", rf"\sqrt{{{a * a * b}}}"]
    return gold, right, [rf"{a + 1}\sqrt{{{b}}}", rf"{b}\sqrt{{{a}}}", str(a * b)]


def _pi(rng: random.Random) -> Answers:
    a, b = rng.randint(1, 40), rng.randint(2, 12)
    gold = rf"\frac{{{a}\pi}}{{{b}}}"
    right = [gold, rf"\frac{{{a}}}{{{b}}}\pi", rf"{a}\pi/{b}"]
    return gold, right, [rf"\frac{{{a}\pi}}{{{b + 1}}}", rf"\frac{{{a}}}{{{b}}}"]


def _pair(rng: random.Random) -> Answers:
    a, b = rng.randint(-20, 20), rng.randint(-20, 20)
    gold = f"({a},{b})"
    right = [f"({a}, {b})", rf"\left( {a}, {b} \right)"]
    return gold, right, [f"({b}, {a + 1})", f"({a}, {b + 1})", f"({-a - 1}, {b})"]


def _interval(rng: random.Random) -> Answers:
    a, b = rng.randint(-20, 0), rng.randint(1, 20)
    gold = f"({a}, {b}]"
    return gold, [f"({a},{b}]", rf"\left( {a}, {b} \right]"], [f"[{a}, {b}]", f"({a}, {b})", f"({a}, {b + 1}]"]


def _answer_set(rng: random.Random) -> Answers:
    a, b = rng.sample(range(-20, 21), 2)
    gold = f"{a}, {b}"
    return gold, [f"{b}, {a}", rf"\{{{a}, {b}\}}", f"x = {a}, x = {b}"], [f"{a}", f"{a}, {b + 1}", f"{a}, {b}, 0"]


def _choice(rng: random.Random) -> Answers:
    letter, other = rng.sample("ABCDE", 2)
    gold = rf"\text{{({letter})}}"
    return gold, [gold, letter, rf"\textbf{{({letter})}}\ {rng.randint(1, 99)}"], [rf"\text{{({other})}}", other]


def _degrees(rng: random.Random) -> Answers:
    n = rng.randint(1, 179)
    return rf"{n}^\circ", [str(n), rf"{n}^{{\circ}}", rf"{n} \text{{ degrees}}"], [str(n + 1), rf"{n + 10}^\circ"]


def _percent(rng: random.Random) -> Answers:
    n = rng.randint(1, 99)
    return rf"{n}\%", [str(n), rf"{n}\%", f"{n / 100:g}"], [str(n + 1), rf"{n + 5}\%"]


def _money(rng: random.Random) -> Answers:
    cents = rng.randint(100, 99_999)
    text = f"{cents // 100}.{cents % 100:02d}"
    off_by_a_cent = f"{(cents + 1) // 100}.{(cents + 1) % 100:02d}"
    return rf"\${text}", [text, rf"\${text}", rf"{text} \text{{ dollars}}"], [off_by_a_cent, str(cents)]


def _polynomial(rng: random.Random) -> Answers:
    a, b = rng.randint(1, 9), rng.randint(1, 9)
    gold = f"x^2 + {a + b}x + {a * b}"
    return gold, [f"(x+{a})(x+{b})", f"x^2+{a + b}x+{a * b}"], [f"x^2 + {a + b}x - {a * b}", f"(x+{a})(x-{b})"]


def _amc(rng: random.Random) -> Answers:
    n = rng.randint(1, 999)
    return f"{n}.0", [str(n), f"{n}.0"], [str(n + 1), f"{n}.5"]


# What MATH-500's gold answers look like, by share.
KINDS: list[tuple[Callable[[random.Random], Answers], float]] = [
    (_integer, 0.45), (_fraction, 0.12), (_root, 0.06), (_pi, 0.04), (_pair, 0.04), (_interval, 0.03),
    (_answer_set, 0.03), (_choice, 0.03), (_degrees, 0.03), (_percent, 0.02), (_money, 0.02),
    (_polynomial, 0.05), (_amc, 0.08),
]  # fmt: skip


def response_for(answers: Answers, rng: random.Random) -> str:
    _, right, near = answers
    answer = rng.choice(right) if rng.random() < 0.6 else rng.choice(near)
    reasoning = "Let me think step by step. " + " ".join(f"Step {i}: compute ${i} + {i} = {2 * i}$." for i in range(8))
    roll = rng.random()
    if roll < 0.05:
        return f"{reasoning} So the answer is {answer}"  # no box: fallback extraction
    if roll < 0.08:
        return f"{reasoning} So the answer is \\boxed{{{answer}"  # truncated
    return f"{reasoning} Therefore, the final answer is $\\boxed{{{answer}}}$."


def grpo_batch(step: int, num_prompts: int, group_size: int) -> tuple[list[str], list[str]]:
    rng = random.Random(step)
    makers, weights = zip(*KINDS)
    responses, golds = [], []
    for make in rng.choices(makers, weights, k=num_prompts):
        answers = make(rng)
        # A group's samples are drawn from a few distinct answers, like a policy that mostly agrees with itself.
        modes = [response_for(answers, rng) for _ in range(3)]
        for _ in range(group_size):
            responses.append(rng.choice(modes) if rng.random() < 0.8 else response_for(answers, rng))
            golds.append(answers[0])
    return responses, golds


def timed_step(pool: GraderPool, responses: list[str], golds: list[str]) -> tuple[float, dict[str, int], float]:
    """Wall seconds to grade one batch, the pool's counts for it, and its accuracy."""
    before = pool.counts.copy()
    started = time.perf_counter()
    result = grade_responses(responses, golds, pool=pool)
    wall = time.perf_counter() - started
    return wall, dict(pool.counts - before), sum(result.correct) / len(responses)


def report(label: str, n: int, wall: float, counts: dict[str, int], accuracy: float) -> None:
    print(
        f"{label}: {n} responses in {wall * 1000:,.0f} ms = {n / wall:,.0f} responses/s; "
        f"{counts.get('distinct', 0)} distinct tasks: {counts.get('fast', 0)} without a worker, "
        f"{counts.get('cached', 0)} cache hits, {counts.get('sent', 0)} sent to workers, "
        f"{counts.get('timeouts', 0)} timeouts; accuracy {accuracy:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--group-size", type=int, default=16)
    args = parser.parse_args()

    with GraderPool(num_workers=args.workers, timeout_s=args.timeout) as pool:
        started = time.perf_counter()
        pool.grade([(r"\sqrt{2}", "1.5")])  # a pair only a worker can grade: starts them, once per run
        print(f"{args.workers} workers ready in {time.perf_counter() - started:.2f} s")
        cold, warm = [], []
        for step in range(args.steps):
            responses, golds = grpo_batch(step, args.prompts, args.group_size)
            for label, walls in [("cold", cold), ("warm", warm)]:  # warm: the same batch again
                wall, counts, accuracy = timed_step(pool, responses, golds)
                walls.append(wall)
                report(f"step {step} {label}", len(responses), wall, counts, accuracy)
        n = args.prompts * args.group_size
        for label, walls in [("cold", cold), ("warm", warm)]:
            mean = sum(walls) / len(walls)
            print(
                f"{label} mean: {mean * 1000:,.0f} ms per {n:,}-response step "
                f"(max {max(walls) * 1000:,.0f} ms) = {n / mean:,.0f} responses/s"
            )


if __name__ == "__main__":
    main()
