"""Rewards picked by name from config, and the grader behind the ground-truth one.

The config node ``{_target_: rlvr.rewards.build_reward, name: random, gamma: 0.5}`` makes
``hydra.utils.instantiate(cfg.reward)`` return a ``Reward``: the registered function with its
parameters bound, plus the name, version and parameters the trainer logs.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any, Sequence

from rlvr.rewards.extract import is_code_reasoning, last_boxed
from rlvr.rewards.functions import REWARDS, RewardFn
from rlvr.rewards.grader import GradeResult, GraderPool, get_grader, grade_answers, grade_responses

__all__ = [
    "REWARDS",
    "Reward",
    "build_reward",
    "last_boxed",
    "is_code_reasoning",
    "GraderPool",
    "GradeResult",
    "get_grader",
    "grade_responses",
    "grade_answers",
]


class Reward:
    """A registered reward function with its config parameters bound.

    ``reward(responses, answers, **context) -> list[float]``; ``name``, ``version`` and ``params``
    say exactly which reward produced the numbers.
    """

    def __init__(self, name: str, **params: Any) -> None:
        entry = REWARDS.entry(name)
        _check_params(name, entry.fn, params)
        self.name = name
        self.version = entry.version
        self.params = dict(params)
        self.fn: RewardFn = entry.fn

    def __call__(self, responses: Sequence[str], answers: Sequence[str], **context: Any) -> list[float]:
        rewards = self.fn(responses, answers, **self.params, **context)
        if len(rewards) != len(responses):
            raise RuntimeError(f"reward {self.name!r} returned {len(rewards)} values for {len(responses)} responses")
        return rewards

    def __repr__(self) -> str:
        return f"Reward({self.name!r}, version={self.version}, params={self.params})"


def build_reward(name: str, **params: Any) -> Reward:
    """The reward ``name`` from ``REWARDS`` with ``params`` bound; unknown names or parameters fail here.

    >>> reward = build_reward("random", gamma=0.0)
    >>> reward.name, reward.version, reward.params
    ('random', 1, {'gamma': 0.0})
    >>> reward(["x"], ["1"], seed=0, step=0, prompt_ids=[0], sample_indices=[0])
    [0.0]
    """
    return Reward(name, **params)


def accepted_params(fn: RewardFn) -> list[str]:
    """Config parameters of a reward: its keyword-only arguments that have a default."""
    return [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not inspect.Parameter.empty
    ]


def _check_params(name: str, fn: RewardFn, params: dict[str, Any]) -> None:
    accepted = accepted_params(fn)
    for param in params:
        if param not in accepted:
            close = difflib.get_close_matches(param, accepted, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(
                f"reward {name!r} has no parameter {param!r}{hint}; accepted: {', '.join(accepted) or 'none'}"
            )
