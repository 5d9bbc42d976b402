r"""The reward functions of the paper, one registry entry each.

A reward is a plain function ``fn(responses, answers, **context) -> list[float]``, one value per
response. Its keyword-only arguments *with* a default are config parameters (``gamma``), bound once
by ``build_reward``; those *without* a default are context the trainer passes at every call
(``seed``, ``step``, ``prompt_ids``, ``sample_indices``); any other context is ignored, so the
trainer can pass the same context to every reward. Bump ``version`` when a reward's values change:
it is logged with every run.

Optional context is read from ``**context`` with ``context.get``, never declared as a keyword with a
default (that would make it a config parameter). ``answer_format``: where a response puts its final
answer, ``"boxed"`` (the default, also for None), ``"answer_tag"`` for base models prompted with the R1
template, ... (``rlvr.rewards.ANSWER_FORMATS``). It is context, not a parameter, because it follows from
the model's prompt template, not from the choice of reward: ``ground_truth``, ``ttrl`` and ``format`` read
it, the others ignore it. It plays the part of the official code's ``_r1_style`` task suffix
(``auto_verify.py``), which only ``math`` and the format rewards read. ``truncated``: per response, whether
it was cut at the length limit (None: none was), so that the rewards that grade answers (``ground_truth``,
``ttrl``) give it no credit from a fallback (``rlvr.rewards.grader.read_response``).

Each reward names the official definition it follows (``ruixin31/Spurious_Rewards``, ``code/ttrl/verifier``)
and, in a "Differs from the official code:" line, where it does not.
"""

from __future__ import annotations

import hashlib
import operator
from typing import Any, Callable, Sequence

from rlvr.registry import Registry
from rlvr.rewards.extract import format_answer, is_code_reasoning
from rlvr.rewards.grader import get_grader, grade_responses
from rlvr.rewards.repetition import has_repeated_block

RewardFn = Callable[..., list[float]]
REWARDS: Registry[RewardFn] = Registry("reward")


def _check_batch(responses: Sequence[str], answers: Sequence[Any], **per_response: Sequence[Any]) -> None:
    for name, values in {"answers": answers, **per_response}.items():
        if len(values) != len(responses):
            raise ValueError(f"{len(responses)} responses but {len(values)} {name}")


def context_answer_format(context: dict[str, Any]) -> str:
    """The ``answer_format`` the trainer passed as context; ``"boxed"`` when it passed none (or None)."""
    return context.get("answer_format") or "boxed"


def context_truncated(context: dict[str, Any], responses: Sequence[str]) -> list[bool]:
    """Per response, whether the trainer's ``truncated`` context says it was cut at the length limit;
    all False when it passed none (or None)."""
    truncated = context.get("truncated")
    if truncated is None:
        return [False] * len(responses)
    if len(truncated) != len(responses):
        raise ValueError(f"{len(responses)} responses but {len(truncated)} truncated flags")
    return [bool(cut) for cut in truncated]


@REWARDS.register("ground_truth", version=4)
def ground_truth_reward(
    responses: Sequence[str],
    answers: Sequence[str],
    *,
    timeout_s: float | None = None,
    num_workers: int | None = None,
    **context: Any,
) -> list[float]:
    r"""1.0 when the final answer equals the gold answer, else 0.0 (the paper's ``math`` reward).

    The answer is read in the context's ``answer_format`` (``rlvr.rewards.grader.response_task``):
    ``boxed``, the last ``\boxed{}`` or, without one, math-verify's extraction from the whole response;
    ``answer_tag``, the paper's reading of the text after the last ``<answer>``: its box, "the answer
    is", else its last number (version 1 read only a closed ``<answer>`` span: ``answer_tag_strict``).
    A response the ``truncated`` context marks as cut at the length limit scores 0 where its answer would
    come from a fallback: the whole response without a box, the last number (version 2 graded it).
    With the ``options`` context (per response, its problem's multiple-choice options, or None), an answer
    holding the gold option's content counts as the gold letter (version 3 compared it with the letter).
    A grading timeout scores 0. ``timeout_s`` and ``num_workers`` configure the shared grader pool
    (None: its defaults). Follows ``qwen_eval.py: qwen_reward_fn``.

    Differs from the official code: answers are compared by math-verify after string rules
    (``rlvr.rewards.verify``), not by Qwen-Math's ``strip_string`` and ``math_grade.grade_answer``; in
    the ``boxed`` format a last box that never closes is no answer (the official code takes the text
    to the end) and a response without a box goes to math-verify whole (the official code reads "the
    answer is", else the last number); a truncated response gets nothing from a fallback (the official
    code grades its last number).

    >>> ground_truth_reward([r"so the answer is \boxed{070}.", r"\boxed{7}", ""], ["70", "70", "70"])
    [1.0, 0.0, 0.0]
    >>> ground_truth_reward(["<answer>70</answer>", "so it is 70", r"<answer>\frac{140}{2}</answer>"], ["70"] * 3,
    ...                     answer_format="answer_tag")  # the last number of the last is 2
    [1.0, 1.0, 0.0]
    >>> ground_truth_reward(["so x = 70. But wait", r"so \boxed{70}. But wait"], ["70"] * 2, truncated=[True, True])
    [0.0, 1.0]
    """
    _check_batch(responses, answers)
    graded = grade_responses(
        responses,
        answers,
        pool=get_grader(num_workers, timeout_s),
        answer_format=context_answer_format(context),
        truncated=context_truncated(context, responses),
        options=context.get("options"),
    )
    return [float(correct) for correct in graded.correct]


@REWARDS.register("format", version=2)
def format_reward(responses: Sequence[str], answers: Sequence[str], **context: Any) -> list[float]:
    r"""1.0 when the response gives a final answer in its answer format, right or wrong (the paper's
    ``box_only_format`` reward, ``qwen_eval.py: box_only_format_reward_fn``).

    ``boxed`` (default): what the last ``boxed`` holds is not blank, complete or not: ``\boxed 5`` and a
    box cut at the length limit count, ``\fbox{5}`` does not (``rlvr.rewards.extract.box_only_answer``).
    ``answer_tag``: the text after the last ``<answer>`` (the whole response without one), less a
    closing tag, is not empty, as the official ``_r1_style`` variant reads it: nearly every response
    counts. ``answer_tag_strict``: a closed, non-blank ``<answer>`` span (and its box, if it has one,
    closes and is not blank). Version 1 ignored incomplete boxes and ``\boxed 5``, and read
    ``answer_tag`` strictly.

    Differs from the official code: a blank box is one of spaces, dots and dollar signs; Qwen-Math's
    ``strip_string`` blanks a few more (``\boxed{\text{ }}``). The R1 reading removes the closing tag
    only, not any trailing letters of "</answer>" (``rlvr.rewards.extract.after_answer_tag``).

    >>> format_reward([r"\boxed{42}", r"\boxed{ }", r"\boxed{4", r"\boxed 4", "42"], ["0"] * 5)
    [1.0, 0.0, 1.0, 1.0, 0.0]
    >>> format_reward(["<answer>42</answer>", "<answer>", "42", ""], ["0"] * 4, answer_format="answer_tag")
    [1.0, 0.0, 1.0, 0.0]
    >>> format_reward(["<answer>42</answer>", "<answer> </answer>", "<answer>42"], ["0"] * 3,
    ...               answer_format="answer_tag_strict")
    [1.0, 0.0, 0.0]
    """
    _check_batch(responses, answers)
    fmt = context_answer_format(context)
    return [float(format_answer(r, fmt) is not None) for r in responses]


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
def python_reward(
    responses: Sequence[str], answers: Sequence[str], *, code_fence: bool = False, **context: Any
) -> list[float]:
    """1.0 when the response mentions python, in any case (the paper's Fig. 8 code-reasoning reward).

    Follows ``qwen_eval.py: contain_python_wo_backticks_reward_fn``, the reward the paper's README lists
    ("Mentioning of Python reward"). ``code_fence=True`` is the official ``contain_python_reward_fn``
    instead: the response opens a Markdown code fence for python, "```python" in any case (not "``` python").

    >>> python_reward(["```python\\nprint(2 + 3)\\n```", "By PYTHON: 5", "2 + 3 = 5"], ["5"] * 3)
    [1.0, 1.0, 0.0]
    >>> python_reward(["```Python\\nprint(2 + 3)\\n```", "By python: 5"], ["5"] * 2, code_fence=True)
    [1.0, 0.0]
    """
    _check_batch(responses, answers)
    if code_fence:
        return [float("```python" in r.lower()) for r in responses]
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
    characters, the degenerate output of a policy stuck in a cycle (``has_repeated_block``), anywhere
    in the whole response, whatever the answer format. Follows ``repetition_detection.py:
    no_repetition_reward_fn`` (``detect_repetition`` with its defaults 10, 256, 10), found faster.

    >>> no_repetition_reward(["Let me compute. " * 10, "Let me compute. " * 9], ["0", "0"])
    [0.0, 1.0]
    """
    _check_batch(responses, answers)
    return [
        0.0 if has_repeated_block(r, min_len=min_len, max_len=max_len, min_repeats=min_repeats) else 1.0
        for r in responses
    ]
