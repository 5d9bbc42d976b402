r"""The reward functions of the paper, one registry entry each.

A reward is a plain function ``fn(responses, answers, **context) -> list[float]``, one value per
response. Its keyword-only arguments *with* a default are config parameters (``gamma``), bound once
by ``build_reward``; those *without* a default are context the trainer passes at every call
(``seed``, ``step``, ``prompt_ids``, ``sample_indices``); any other context is ignored, so the
trainer can pass the same context to every reward. Bump ``version`` when a reward's values change:
it is logged with every run.

Optional context is read from ``**context`` with ``context.get``, never declared as a keyword with a
default (that would make it a config parameter). The one such key is ``answer_format``: where a
response puts its final answer, ``"boxed"`` (the default, also for None) or ``"answer_tag"`` for base
models prompted with the R1 template (see ``rlvr.rewards.extract``). It is context, not a parameter,
because it follows from the model's prompt template, not from the choice of reward: ``ground_truth``
and ``format`` read it, the others ignore it.
"""

from __future__ import annotations

import hashlib
import operator
from typing import Any, Callable, Sequence

from rlvr.registry import Registry
from rlvr.rewards.extract import extract_answer, has_repeated_block, is_code_reasoning
from rlvr.rewards.grader import get_grader, grade_responses

RewardFn = Callable[..., list[float]]
REWARDS: Registry[RewardFn] = Registry("reward")


def _check_batch(responses: Sequence[str], answers: Sequence[Any], **per_response: Sequence[Any]) -> None:
    for name, values in {"answers": answers, **per_response}.items():
        if len(values) != len(responses):
            raise ValueError(f"{len(responses)} responses but {len(values)} {name}")


def context_answer_format(context: dict[str, Any]) -> str:
    """The ``answer_format`` the trainer passed as context; ``"boxed"`` when it passed none (or None)."""
    return context.get("answer_format") or "boxed"


@REWARDS.register("ground_truth", version=1)
def ground_truth_reward(
    responses: Sequence[str],
    answers: Sequence[str],
    *,
    timeout_s: float | None = None,
    num_workers: int | None = None,
    **context: Any,
) -> list[float]:
    r"""1.0 when the final answer equals the gold answer per math-verify, else 0.0.

    The answer is the last ``\boxed{}``; without one, math-verify's extraction from the whole
    response. With ``answer_format="answer_tag"`` in the context it is the last ``<answer>`` span
    (its box, if any), and a response without a closed span scores 0. A grading timeout scores 0.
    ``timeout_s`` and ``num_workers`` configure the shared grader pool (None: its defaults).

    >>> ground_truth_reward([r"so the answer is \boxed{070}.", r"\boxed{7}", ""], ["70", "70", "70"])
    [1.0, 0.0, 0.0]
    >>> ground_truth_reward(["<answer>70</answer>", r"\boxed{70}"], ["70", "70"], answer_format="answer_tag")
    [1.0, 0.0]
    """
    _check_batch(responses, answers)
    graded = grade_responses(
        responses, answers, pool=get_grader(num_workers, timeout_s), answer_format=context_answer_format(context)
    )
    return [float(correct) for correct in graded.correct]


@REWARDS.register("format", version=1)
def format_reward(responses: Sequence[str], answers: Sequence[str], **context: Any) -> list[float]:
    r"""1.0 when the response gives a non-empty final answer in its answer format, right or wrong.

    ``boxed`` (default): its last ``\boxed{}`` closes and is not blank. ``answer_tag``: it has a
    closed, non-blank ``<answer>`` span (and the span's box, if it has one, closes and is not blank).

    >>> format_reward([r"\boxed{42}", r"\boxed{ }", r"\boxed{4", "42"], ["0"] * 4)
    [1.0, 0.0, 0.0, 0.0]
    >>> format_reward(["<answer>42</answer>", "<answer> </answer>", "<answer>42", r"\boxed{42}"], ["0"] * 4,
    ...               answer_format="answer_tag")
    [1.0, 0.0, 0.0, 0.0]
    """
    _check_batch(responses, answers)
    fmt = context_answer_format(context)
    return [float(bool((extract_answer(r, fmt) or "").strip())) for r in responses]


@REWARDS.register("random", version=1)
def random_reward(
    responses: Sequence[str],
    answers: Sequence[str],
    *,
    seed: int,
    step: int,
    prompt_ids: Sequence[Any],
    sample_indices: Sequence[int],
    gamma: float = 0.5,
    **context: Any,
) -> list[float]:
    """1.0 with probability ``gamma``, whatever the response (the paper's random reward).

    Each draw is a hash of (seed, step, prompt id, sample index), so a response gets the same
    reward however the batch is split across processes or ordered, and a rerun with the same seed
    reproduces it.

    >>> random_reward(["a", "b"], ["1", "1"], seed=0, step=3, prompt_ids=[7, 7], sample_indices=[0, 1], gamma=1.0)
    [1.0, 1.0]
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"random reward: gamma must be in [0, 1], got {gamma!r}")
    _check_batch(responses, answers, prompt_ids=prompt_ids, sample_indices=sample_indices)
    return [float(uniform_draw(seed, step, p, i) < gamma) for p, i in zip(prompt_ids, sample_indices)]


def uniform_draw(seed: Any, step: Any, prompt_id: Any, sample_index: Any) -> float:
    """A number in [0, 1) fixed by its four keys alone.

    Integer-like keys (Python, numpy or 0-d torch integers) hash alike, so ids read from a tensor
    draw the same as ids read from a list.

    >>> uniform_draw(0, 1, "gsm8k/12", 3) == uniform_draw(0, 1, "gsm8k/12", 3) != uniform_draw(0, 1, "gsm8k/12", 4)
    True
    """
    key = "\x1f".join(_canonical(k) for k in (seed, step, prompt_id, sample_index))
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") >> 11) / 2.0**53  # 53 bits: exact in a float, never 1.0


def _canonical(key: Any) -> str:
    try:
        return str(operator.index(key))
    except TypeError:
        return str(key)


@REWARDS.register("python", version=1)
def python_reward(responses: Sequence[str], answers: Sequence[str], **context: Any) -> list[float]:
    """1.0 when the response mentions python (the paper's code-reasoning reward), in any case.

    >>> python_reward(["```python\\nprint(2 + 3)\\n```", "2 + 3 = 5"], ["5", "5"])
    [1.0, 0.0]
    """
    _check_batch(responses, answers)
    return [float(is_code_reasoning(r)) for r in responses]


@REWARDS.register("no_repetition", version=1)
def no_repetition_reward(
    responses: Sequence[str],
    answers: Sequence[str],
    *,
    min_len: int = 10,
    max_len: int = 256,
    min_repeats: int = 10,
    **context: Any,
) -> list[float]:
    """0.0 when the response loops, else 1.0 (the paper's Fig. 16 no-repetition reward).

    Looping: ``min_repeats`` consecutive copies of one block of ``min_len`` to ``max_len``
    characters, the degenerate output of a policy stuck in a cycle (``has_repeated_block``).

    >>> no_repetition_reward(["Let me compute. " * 10, "Let me compute. " * 9], ["0", "0"])
    [0.0, 1.0]
    """
    _check_batch(responses, answers)
    return [
        0.0 if has_repeated_block(r, min_len=min_len, max_len=max_len, min_repeats=min_repeats) else 1.0
        for r in responses
    ]
