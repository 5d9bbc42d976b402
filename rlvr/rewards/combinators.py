r"""Rewards made of other rewards, so that the paper's compound rewards are config files, not code.

``inverse`` turns one reward around (``1 - r``) and ``all_of`` multiplies several (for 0/1 rewards:
all of them hold). The paper's "no Python" compounds are then::

    name: all_of
    label: ground_truth_no_python
    rewards:
      - name: ground_truth
      - name: inverse
        reward: {name: python}

A combinator's inner rewards are parameters like any other, marked with ``@combinator``:
``build_reward`` builds them once, from ``Reward`` objects or ``{name: ..., **params}`` mappings
(nested combinators included), so an unknown inner name or parameter fails at start-up; the function
receives the built ``Reward`` objects. The call's context (seed, step, prompt_ids, answer_format, ...)
goes to every inner reward unchanged.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Literal, Sequence, TypeVar

from rlvr.rewards.functions import REWARDS, _check_batch

if TYPE_CHECKING:
    from rlvr.rewards import Reward

F = TypeVar("F", bound=Callable[..., Any])
Arity = Literal["one", "list"]


def combinator(**params: Arity) -> Callable[[F], F]:
    """Mark the parameters of a reward that hold inner rewards: ``"one"`` reward or a ``"list"`` of them.

    ``build_reward`` reads the mark (``fn.inner_rewards``), requires those parameters and builds them.
    """

    def mark(fn: F) -> F:
        fn.inner_rewards = dict(params)  # type: ignore[attr-defined]
        return fn

    return mark


@REWARDS.register("inverse", version=1)
@combinator(reward="one")
def inverse_reward(
    responses: Sequence[str], answers: Sequence[str], *, reward: Reward | None = None, **context: Any
) -> list[float]:
    """``1 - r`` for the inner reward's value r: for a 0/1 reward, 1 exactly where it is 0.

    Follows ``auto_verify.py: auto_verify``'s ``inverse_`` prefix (``1.0 - reward``).

    >>> from rlvr.rewards import build_reward
    >>> inverse_reward(["```python\\nprint(2 + 3)\\n```", "2 + 3 = 5"], ["5", "5"], reward=build_reward("python"))
    [0.0, 1.0]
    """
    if reward is None:
        raise TypeError("reward 'inverse' needs an inner reward (parameter 'reward')")
    _check_batch(responses, answers)
    return [1.0 - value for value in reward(responses, answers, **context)]


@REWARDS.register("all_of", version=1)
@combinator(rewards="list")
def all_of_reward(
    responses: Sequence[str], answers: Sequence[str], *, rewards: Sequence[Reward] = (), **context: Any
) -> list[float]:
    r"""The product of the inner rewards: for 0/1 rewards, 1 exactly where all of them are 1.

    Every inner reward scores every response (none is skipped where an earlier one is 0), so each
    sees the batch and context it would see alone. Follows ``auto_verify.py: auto_verify``'s ``_AND_``
    (``math_AND_inverse_contain_python_wo_backticks``), where each part may carry its own ``_r1_style``;
    here the context's one ``answer_format`` reaches every part.

    Differs from the official code: the product, not 1.0 where every part is non-zero; the same for
    0/1 rewards, which all of the paper's are.

    >>> from rlvr.rewards import build_reward
    >>> no_python = build_reward("inverse", reward={"name": "python"})
    >>> responses = [r"\boxed{5}", r"Python says \boxed{5}", "5"]
    >>> all_of_reward(responses, ["5"] * 3, rewards=[build_reward("format"), no_python])
    [1.0, 0.0, 0.0]
    """
    if not rewards:
        raise TypeError("reward 'all_of' needs at least one inner reward (parameter 'rewards')")
    _check_batch(responses, answers)
    columns = [reward(responses, answers, **context) for reward in rewards]
    return [float(math.prod(values)) for values in zip(*columns)]
