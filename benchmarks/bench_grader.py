r"""Grader throughput on batches shaped like one GRPO step: 64 prompts x 16 samples = 1,024 responses.

Responses are built from MATH-500's worked solutions (``eval/math500_with_subject_level.jsonl`` under
``$RLVR_DATA``, or ``--data``), written the ways a policy writes them (``FORMS``):

- ``boxed``: the solution's reasoning, then "the final answer is $\boxed{...}$";
- ``own_box``: the solution as it is, its box where it put it (only for the gold answer's own spelling);
- ``no_box``: the reasoning and "The answer is ...", no box: math-verify reads the whole response;
- ``code``: a ```python block that prints the answer and its ```output, then a box (or no box: whole);
- ``repeat``: the reasoning, then one of its paragraphs over and over until cut at the length limit
  (``truncated=True``); half of them had boxed the solution's answer before they started looping (graded
  by that box), the rest get no credit from a fallback (``grade_responses(truncated=...)``).

Each group of 16 samples draws its final answers mostly from a few (a trained policy mostly agrees with
itself): the gold answer, an equivalent spelling (``\dfrac``, decimals, ``x = ...``, a unit or degrees,
sums reordered, ``\left(``) or a wrong one (a near miss, another problem's answer). The reasoning differs
from sample to sample, as sampled text does, so whole responses never repeat. Each step takes 64 problems
no earlier step used (MATH-500 has enough for 7 steps), so the grader has seen neither their gold answers
nor the answers to them (cold), as with a fresh batch in training; only answers that several problems
share (small integers) may be remembered from an earlier step. A "warm" step grades the same batch again,
as the trainer does right after the reward (its ground-truth accuracy metric).

Goal (issue 15): at least 1,000 responses/s cold on 2 cores with the default 2 workers, and no step of
1,024 slower than 2 s. Printed per step and overall: responses/s, and the share of responses settled by
the text rules, by math-verify, by a timeout (graded 0), and with no answer at all (no box, an unclosed
one, a truncated response's fallback denied).

Without the data file the older synthetic answers are graded (short made-up reasoning), with a note.

From the repository root (``rlvr`` is imported from there, not installed):

    python -m benchmarks.bench_grader --workers 2 --steps 5
    python -m benchmarks.bench_grader --profile cold.prof   # cProfile of this (the trainer's) process
    python -m benchmarks.bench_grader --profile-worker worker.prof   # ... and of a worker's share

``--profile-worker`` grades, after the timed steps, what the pool sent its workers in the cold steps,
in this process as one warmed-up worker would (cProfile slows the LaTeX parser more than the rest).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import random
import re
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Callable, NamedTuple

from rlvr.rewards import GraderPool, grade_responses
from rlvr.rewards.equivalence import string_verdict
from rlvr.rewards.grader import Task, read_response
from rlvr.rewards.verify import grade_task, warm_up_worker

MATH500 = Path("eval") / "math500_with_subject_level.jsonl"
# What the responses' endings look like, by share. `repeat` responses are cut at TRUNCATE_CHARS (about
# 2,000 tokens of a policy's 3,072-token limit).
FORMS: list[tuple[str, float]] = [
    ("boxed", 0.62), ("own_box", 0.08), ("no_box", 0.10), ("code", 0.10), ("repeat", 0.10),
]  # fmt: skip
TRUNCATE_CHARS = 8_000
# A group's final answers: drawn from its modes with this probability, else anew.
MODE_SHARE = 0.85
# Chance that a problem of MATH level 1..5 gets a right answer (a 1.5B-7B policy after some RL).
RIGHT_BY_LEVEL = {1: 0.9, 2: 0.8, 3: 0.65, 4: 0.5, 5: 0.35}


class Problem(NamedTuple):
    problem: str
    solution: str
    answer: str
    level: int


class Batch(NamedTuple):
    responses: list[str]
    golds: list[str]
    truncated: list[bool]


def load_problems(path: Path) -> list[Problem] | None:
    """MATH-500's rows with their worked solutions, or None when the file is not there."""
    if not path.is_file():
        return None
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [Problem(r["problem"], r["solution"], r["answer"], int(r["level"])) for r in rows]


# ------------------------------------------------------------------------------------ answers


def _top_level_split(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` outside braces and brackets."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in "{([":
            depth += 1
        elif char in "})]":
            depth -= 1
        if char == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_FRACTION = re.compile(r"(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}")
_UNITS = [r"\text{ cm}", r"\text{ units}", r" \text{ dollars}", " cm", r"\mbox{ inches}^2", r"\text{ square units}"]


def equivalent(gold: str, rng: random.Random) -> str:
    r"""The gold answer written another way a policy writes it (``\dfrac``, a decimal, ``x = ``, units,
    a reordered sum, ``\left(``); the gold answer itself where none of these applies."""
    ways: list[str] = []
    if r"\frac" in gold:
        ways.append(gold.replace(r"\frac", r"\dfrac"))
    fraction = _FRACTION.fullmatch(gold)
    if fraction and 10**6 % int(fraction[3]) == 0:
        ways.append(f"{fraction[1]}{int(fraction[2]) / int(fraction[3]):g}")
    if _PLAIN_NUMBER.fullmatch(gold):
        ways += [f"{gold}{rng.choice(_UNITS)}", f"x = {gold}"]
        if "." not in gold:
            ways.append(f"{gold}.0")
    elif "=" not in gold and "," not in gold and r"\text" not in gold and "^\\circ" not in gold:
        ways.append(f"{rng.choice('xyn')} = {gold}")
    terms = _top_level_split(gold, "+")
    if len(terms) > 1 and all(t.strip() for t in terms) and "-" not in gold and "," not in gold:
        ways.append(" + ".join(t.strip() for t in reversed(terms)))
    if gold.startswith("(") and gold.endswith(")") and "," in gold:
        ways.append(rf"\left( {', '.join(p.strip() for p in _top_level_split(gold[1:-1], ','))} \right)")
    if gold.endswith("^\\circ"):
        ways.append(gold.removesuffix("^\\circ") + r" \text{ degrees}")
    return rng.choice(ways) if ways else gold


def near_miss(gold: str, rng: random.Random) -> str | None:
    """The gold answer with one of its numbers off by a little, or its sign flipped; None without numbers."""
    numbers = list(re.finditer(r"\d+", gold))
    if not numbers:
        return None
    if rng.random() < 0.2 and not gold.startswith("-"):
        return f"-{gold}"
    hit = rng.choice(numbers)
    changed = max(0, int(hit[0]) + rng.choice([-2, -1, 1, 2, 10]))
    return f"{gold[: hit.start()]}{changed}{gold[hit.end():]}"


def wrong(gold: str, others: list[str], rng: random.Random) -> str:
    """A wrong final answer: a near miss of the gold one, else another problem's answer."""
    miss = near_miss(gold, rng) if rng.random() < 0.7 else None
    return miss if miss is not None and miss != gold else rng.choice(others)


def draw_answer(problem: Problem, others: list[str], rng: random.Random) -> str:
    if rng.random() < RIGHT_BY_LEVEL[problem.level]:
        return problem.answer if rng.random() < 0.6 else equivalent(problem.answer, rng)
    return wrong(problem.answer, others, rng)


# ------------------------------------------------------------------------------------ responses

_BOX = re.compile(r"\\boxed\s*\{")
_ASY = re.compile(r"\[asy\].*?\[/asy\]", re.S)


def unboxed(text: str) -> str:
    r"""``text`` with each ``\boxed{x}`` replaced by ``x``."""
    while (match := _BOX.search(text)) is not None:
        depth, i = 1, match.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1 + (text[i] == "\\")
        text = text[: match.start()] + text[match.end() : i - 1] + text[i:]
    return text


OPENERS = [
    "To solve this problem, we need to work through it step by step. The problem says: {problem}",
    "Let's think step by step. We are given the following. {problem}",
    "We start by understanding what the problem asks: {problem}",
    "First, let's restate the problem: {problem}",
    "Let me work through this carefully. The problem says: {problem}",
]
CHECKS = [
    "Let me double-check this: ${a} \\cdot {b} = {ab}$, which is consistent with the work above.",
    "As a sanity check, note that ${a} + {b} = {a_b}$, so the numbers are in the right range.",
    "Checking the arithmetic once more: ${ab} / {b} = {a}$. Good.",
]
ENDINGS = [
    "Therefore, the final answer is $\\boxed{{{answer}}}$.",
    "So the answer is $\\boxed{{{answer}}}$.",
    "Thus, the answer is \\(\\boxed{{{answer}}}\\).",
    "The final answer is \\[\\boxed{{{answer}}}\\]",
]


def reasoning(problem: Problem, rng: random.Random, *, keep_box: bool = False) -> str:
    """The solution's reasoning as one sample writes it: the problem restated, the solution, a second
    look at one of its paragraphs, and a check with numbers of its own (so no two samples are the same text)."""
    a, b = rng.randint(2, 99), rng.randint(2, 99)
    check = rng.choice(CHECKS).format(a=a, b=b, ab=a * b, a_b=a + b)
    solution = _ASY.sub("", problem.solution)
    body = solution if keep_box else unboxed(solution)
    again = rng.choice([p for p in unboxed(solution).split("\n\n") if p.strip()])
    opener = rng.choice(OPENERS).format(problem=_ASY.sub("", problem.problem))
    return f"{opener}\n\n{body}\n\nLet me verify this another way. {again}\n\n{check}"


def python_literal(answer: str) -> str:
    r"""The answer as a policy's Python would compute it (roughly: ``\frac{a}{b}`` as ``Rational(a, b)``)."""
    text = re.sub(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}", r"Rational(\1, \2)", answer)
    text = re.sub(r"\\sqrt\{([^{}]*)\}", r"sqrt(\1)", text).replace("\\pi", "pi").replace("^", "**")
    return re.sub(r"\\(?:left|right|text|mbox|,|!)", "", text)


def code_response(problem: Problem, answer: str, rng: random.Random, *, boxed: bool) -> str:
    """The problem restated and the solution's first paragraph, then code that prints the answer."""
    start = reasoning(problem, rng).split("\n\n")
    literal = python_literal(answer)
    printed = re.sub(r"Rational\((.*?), (.*?)\)", r"\1/\2", literal)
    code = (
        "```python\nfrom sympy import *\n\n"
        f"x, y = symbols('x y')\nresult = {literal}\nprint(result)\n```\n"
        f"```output\n{printed}\n```\n"
    )
    intro = f"{start[0]}\n\n{start[1]}\n\nLet's check this with Python.\n\n{code}"
    ending = f"\nThe code gives {printed}." if not boxed else "\n" + rng.choice(ENDINGS).format(answer=answer)
    return intro + ending


def repeating_response(problem: Problem, rng: random.Random, *, boxed_early: bool) -> str:
    """Part of the reasoning, then one paragraph over and over, cut at ``TRUNCATE_CHARS``."""
    text = reasoning(problem, rng, keep_box=boxed_early)
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    loop = f"Wait, let me recompute this. {rng.choice(paragraphs)[:400]}\n\n"
    text = text + "\n\n" + loop * (TRUNCATE_CHARS // len(loop) + 1)
    return text[:TRUNCATE_CHARS]


def response(problem: Problem, answer: str, form: str, rng: random.Random) -> tuple[str, bool]:
    """One sample's text ending on ``answer`` in ``form`` (``FORMS``), and whether it was truncated."""
    if form == "own_box" and answer == problem.answer:
        return reasoning(problem, rng, keep_box=True), False
    if form == "no_box":
        return f"{reasoning(problem, rng)}\n\nSo the answer is ${answer}$.", False
    if form == "code":
        return code_response(problem, answer, rng, boxed=rng.random() < 0.7), False
    if form == "repeat":
        return repeating_response(problem, rng, boxed_early=rng.random() < 0.5), True
    return f"{reasoning(problem, rng)}\n\n{rng.choice(ENDINGS).format(answer=answer)}", False


def grpo_batch(problems: list[Problem], others: list[str], group_size: int, rng: random.Random) -> Batch:
    forms, weights = zip(*FORMS)
    batch = Batch([], [], [])
    for problem in problems:
        modes = [draw_answer(problem, others, rng) for _ in range(rng.choice([1, 2, 2, 3]))]
        for _ in range(group_size):
            answer = rng.choice(modes) if rng.random() < MODE_SHARE else draw_answer(problem, others, rng)
            text, cut = response(problem, answer, rng.choices(forms, weights)[0], rng)
            batch.responses.append(text)
            batch.golds.append(problem.answer)
            batch.truncated.append(cut)
    return batch


def math500_batches(problems: list[Problem], steps: int, num_prompts: int, group_size: int) -> list[Batch]:
    """One batch per step, each on problems no earlier step used."""
    rng = random.Random(0)
    order = rng.sample(problems, len(problems))
    others = [p.answer for p in problems]
    return [
        grpo_batch(order[step * num_prompts : (step + 1) * num_prompts], others, group_size, rng)
        for step in range(steps)
    ]


# ------------------------------------------------------------------------ synthetic (no data file)

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


def _polynomial(rng: random.Random) -> Answers:
    a, b = rng.randint(1, 9), rng.randint(1, 9)
    gold = f"x^2 + {a + b}x + {a * b}"
    return gold, [f"(x+{a})(x+{b})", f"x^2+{a + b}x+{a * b}"], [f"x^2 + {a + b}x - {a * b}", f"(x+{a})(x-{b})"]


# What MATH-500's gold answers look like, roughly, by share.
KINDS: list[tuple[Callable[[random.Random], Answers], float]] = [
    (_integer, 0.62), (_fraction, 0.14), (_root, 0.08), (_pi, 0.05), (_pair, 0.05), (_polynomial, 0.06),
]  # fmt: skip


def _synthetic_response(answers: Answers, rng: random.Random) -> tuple[str, bool]:
    _, right, near = answers
    answer = rng.choice(right) if rng.random() < 0.6 else rng.choice(near)
    reasoning = f"Let me think step by step ({rng.randint(0, 10**6)}). " + " ".join(
        f"Step {i}: compute ${i} + {i} = {2 * i}$." for i in range(8)
    )
    roll = rng.random()
    if roll < 0.08:
        return f"{reasoning} So the answer is {answer}", False  # no box: math-verify reads it whole
    if roll < 0.12:
        return f"{reasoning} So the answer is \\boxed{{{answer}", True  # cut inside its box
    return f"{reasoning} Therefore, the final answer is $\\boxed{{{answer}}}$.", False


def synthetic_batches(steps: int, num_prompts: int, group_size: int) -> list[Batch]:
    makers, weights = zip(*KINDS)
    batches = []
    for step in range(steps):
        rng = random.Random(step)
        batch = Batch([], [], [])
        for make in rng.choices(makers, weights, k=num_prompts):
            answers = make(rng)
            for _ in range(group_size):
                text, cut = _synthetic_response(answers, rng)
                batch.responses.append(text)
                batch.golds.append(answers[0])
                batch.truncated.append(cut)
        batches.append(batch)
    return batches


# ------------------------------------------------------------------------------------ timing

# GraderPool.counts keys that say how each response was settled (they add up to "pairs").
SETTLED = {
    "by_rules": "text rules", "by_math_verify": "math-verify", "by_timeout": "timeout", "no_answer": "no answer",
}  # fmt: skip


class Step(NamedTuple):
    seconds: float
    worker_cpu_s: list[float]  # CPU seconds each worker spent on it (empty where /proc cannot tell)
    main_cpu_s: float  # CPU seconds of this process, the trainer's side: reading responses, text rules
    counts: dict[str, int]
    accuracy: float

    @property
    def idle_seconds(self) -> float:
        """About what the step would take on otherwise idle cores, one per worker: its busiest worker's
        CPU time, or the main process's if that is longer."""
        return max([self.main_cpu_s, *self.worker_cpu_s])


def cpu_seconds(pids: list[int]) -> list[float]:
    """CPU seconds (user + system) each process of ``pids`` has used so far; empty without Linux's /proc.

    On a machine shared with other jobs wall time depends on their load; CPU time much less."""
    seconds = []
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return []
        seconds.append((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))  # utime, stime: stat(5)
    return seconds


def timed_step(pool: GraderPool, batch: Batch, profile: cProfile.Profile | None = None) -> Step:
    """Wall and CPU seconds to grade one batch, the pool's counts for it, and its accuracy."""
    before, pids = pool.counts.copy(), pool.pids  # a worker replaced in between takes its CPU time with it
    cpu_before = cpu_seconds(pids)
    if profile is not None:
        profile.enable()
    started, main_started = time.perf_counter(), time.process_time()
    result = grade_responses(batch.responses, batch.golds, pool=pool, truncated=batch.truncated)
    seconds, main_cpu_s = time.perf_counter() - started, time.process_time() - main_started
    if profile is not None:
        profile.disable()
    cpu_after = cpu_seconds(pids)
    worker_cpu_s = [b - a for a, b in zip(cpu_before, cpu_after)] if len(cpu_after) == len(cpu_before) else []
    accuracy = sum(result.correct) / len(batch.responses)
    return Step(seconds, worker_cpu_s, main_cpu_s, dict(pool.counts - before), accuracy)


def shares(counts: dict[str, int]) -> str:
    total = max(1, sum(counts.get(key, 0) for key in SETTLED))
    return ", ".join(f"{name} {100 * counts.get(key, 0) / total:.1f}%" for key, name in SETTLED.items())


def report(label: str, n: int, step: Step) -> None:
    counts = step.counts
    print(
        f"{label}: {n} responses in {step.seconds * 1000:,.0f} ms = {n / step.seconds:,.0f} responses/s "
        f"(CPU s: workers {'+'.join(f'{c:.2f}' for c in step.worker_cpu_s)}, main {step.main_cpu_s:.2f}); "
        f"settled by {shares(counts)}; "
        f"{counts.get('distinct', 0)} distinct tasks, {counts.get('sent', 0)} sent to workers, "
        f"{counts.get('cached', 0)} cache hits; accuracy {step.accuracy:.2f}",
        flush=True,
    )


def summary(label: str, n: int, steps: list[Step]) -> None:
    seconds, idle = [s.seconds for s in steps], [s.idle_seconds for s in steps]
    worker_cpu_s = statistics.median(sum(s.worker_cpu_s) for s in steps)
    print(
        f"{label}: median {n / statistics.median(seconds):,.0f} responses/s over {len(steps)} steps, slowest step "
        f"{max(seconds):.2f} s; CPU per step (median): workers {worker_cpu_s:.2f} s together, main "
        f"{statistics.median(s.main_cpu_s for s in steps):.2f} s; on idle cores (busiest process's CPU time): "
        f"median {n / statistics.median(idle):,.0f} responses/s, slowest step {max(idle):.2f} s"
    )


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"


def worker_tasks(batch: Batch) -> list[Task]:
    """What the pool sends its workers for ``batch`` when nothing is remembered: each distinct task with
    an answer that the string rules do not settle, sorted by gold answer as the pool sends them."""
    tasks = dict.fromkeys(read_response(r, g, truncated=t).task for r, g, t in zip(*batch))
    todo = [t for t in tasks if t.pred and t.pred.strip() and (t.fallback or string_verdict(t.pred, t.gold) is None)]
    return sorted(todo, key=lambda t: t.gold)


def profile_worker(batches: list[Batch], path: Path) -> None:
    warm_up_worker(True)
    tasks = [task for batch in batches for task in worker_tasks(batch)]
    profile = cProfile.Profile()
    started = time.process_time()
    profile.runcall(lambda: [grade_task(*task) for task in tasks])
    profile.dump_stats(path)
    seconds = time.process_time() - started
    print(f"profile of a worker grading the cold steps' {len(tasks)} tasks: {path} ({seconds:.1f} s of CPU)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--group-size", type=int, default=16)
    parser.add_argument("--data", type=Path, help=f"MATH-500 with solutions (default: $RLVR_DATA/{MATH500})")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the cold steps (this process)")
    parser.add_argument("--profile-worker", type=Path, help="write a cProfile of the workers' tasks")
    args = parser.parse_args()

    path = args.data or Path(os.environ.get("RLVR_DATA", "data")) / MATH500
    problems = load_problems(path)
    if problems is None:
        print(f"note: {path} not found (set RLVR_DATA or --data): grading synthetic answers with short reasoning")
        batches = synthetic_batches(args.steps, args.prompts, args.group_size)
    else:
        most = len(problems) // args.prompts
        if args.steps > most:
            print(f"note: {len(problems)} problems make {most} cold steps of {args.prompts} prompts; running {most}")
        batches = math500_batches(problems, min(args.steps, most), args.prompts, args.group_size)
        chars = statistics.median(len(r) for b in batches for r in b.responses)
        print(f"{path}: {len(batches)} steps of {args.prompts} x {args.group_size}; median response {chars:,.0f} chars")

    print(load())
    profile = cProfile.Profile() if args.profile else None
    with GraderPool(num_workers=args.workers, timeout_s=args.timeout) as pool:
        started = time.perf_counter()
        pool.grade([(r"\sqrt{2}", "1.5")])  # a pair only a worker can grade: starts them, once per run
        print(f"{args.workers} workers ready in {time.perf_counter() - started:.2f} s")
        cold, warm = [], []
        for index, batch in enumerate(batches):
            cold.append(timed_step(pool, batch, profile))
            report(f"step {index} cold", len(batch.responses), cold[-1])
            warm.append(timed_step(pool, batch))  # the same batch again
            report(f"step {index} warm", len(batch.responses), warm[-1])
    n = args.prompts * args.group_size
    summary("cold", n, cold)
    summary("warm", n, warm)
    total = sum((Counter(step.counts) for step in cold), Counter())
    print(f"settled (cold steps): {shares(total)}; {total.get('timeouts', 0)} tasks timed out")
    print("goal: cold >= 1,000 responses/s and every step <= 2 s, on 2 otherwise idle cores")
    print(load())
    if profile is not None:
        profile.dump_stats(args.profile)
        print(f"profile of the cold steps: {args.profile}")
    if args.profile_worker is not None:
        profile_worker(batches, args.profile_worker)


if __name__ == "__main__":
    main()
