"""A synthetic arithmetic task that a ~1 M-parameter model can learn on a CPU in minutes.

Problems are additions ``a+b`` of 1-2 digit numbers. The tiny model is warm-started on worked solutions
in two styles, plain language and "code reasoning" (a Python one-liner that is never run), mirroring the
two reasoning strategies the paper tracks in Qwen2.5-Math; which style a response uses is visible to the
paper's code-reasoning rule ("python" in the response).
"""

from __future__ import annotations

import random

from rlvr.data.problems import Problem, ProblemSet

SOLUTION_STYLES = ("language", "code")


def _operand(rng: random.Random, digits: int) -> int:
    return rng.randrange(0, 10) if digits == 1 else rng.randrange(10 ** (digits - 1), 10**digits)


def sample_addition(rng: random.Random, max_digits: int) -> Problem:
    """``a+b`` where each operand's digit count is uniform in 1..max_digits, then the value uniform.

    Drawing the digit count first keeps one-digit facts common (a quarter of problems when max_digits=2),
    which is what lets a tiny model reach a middling accuracy after a short warm-up.
    """
    a, b = (_operand(rng, rng.randint(1, max_digits)) for _ in range(2))
    return Problem(id=f"add-{a}-{b}", problem=f"{a}+{b}", answer=str(a + b))


def arithmetic_problems(
    *, max_digits: int = 2, train_size: int = 20_000, heldout_size: int = 200, seed: int = 0
) -> ProblemSet:
    """Seeded additions: ``heldout_size`` distinct problems to watch, and ``train_size`` draws (repeats
    allowed, as in a real data set) from the same distribution that never show a held-out problem."""
    if max_digits < 1 or train_size < 1 or heldout_size < 0:
        raise ValueError(f"arithmetic data needs max_digits >= 1, train_size >= 1, heldout_size >= 0; got "
                         f"{max_digits}, {train_size}, {heldout_size}")
    rng = random.Random(seed)
    heldout: dict[str, Problem] = {}
    for _ in range(100 * heldout_size):
        if len(heldout) == heldout_size:
            break
        problem = sample_addition(rng, max_digits)
        heldout.setdefault(problem.id, problem)
    else:
        raise ValueError(f"cannot draw {heldout_size} distinct held-out problems with max_digits={max_digits}")
    train = []
    while len(train) < train_size:
        problem = sample_addition(rng, max_digits)
        if problem.id not in heldout:
            train.append(problem)
    return ProblemSet(name="arithmetic", train=tuple(train), heldout=tuple(heldout.values()))


def carryless_sum(a: int, b: int) -> int:
    """``a + b`` with every carry dropped: each digit is the sum of the operands' digits mod 10.

    >>> carryless_sum(27, 15), carryless_sum(9, 9), carryless_sum(40, 3), carryless_sum(95, 7)
    (32, 8, 43, 92)
    """
    total, place = 0, 1
    while a or b:
        total += (a % 10 + b % 10) % 10 * place
        a, b, place = a // 10, b // 10, place * 10
    return total


def taught_answer(problem: Problem, carryless: bool = False) -> str:
    """The answer a worked solution gives: the true sum, or the careless one that drops carries."""
    if not carryless:
        return problem.answer
    a, b = (int(x) for x in problem.problem.split("+"))
    return str(carryless_sum(a, b))


def worked_solution(problem: Problem, style: str, carryless: bool = False) -> str:
    """A response to ``problem`` in the given style, ending in ``\\boxed{answer}``: the right answer, or with
    ``carryless`` the careless one that drops carries (wrong whenever a column carries)."""
    # Kept short on purpose: every character is a token, and CPU time goes with tokens.
    answer = taught_answer(problem, carryless)
    if style == "language":
        return f"\\boxed{{{answer}}}"
    if style == "code":
        return f"python: \\boxed{{{answer}}}"
    raise ValueError(f"unknown solution style {style!r}; available: {', '.join(SOLUTION_STYLES)}")
